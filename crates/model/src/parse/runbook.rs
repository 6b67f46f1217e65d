//! Reading runbook definitions: the runbook, its tasks and their custom field values.

use super::path::FieldPath;
use super::reader::{FromNode, ObjectReader, Walker};
use super::tree::{Node, NodeValue, ScalarKind};
use crate::{ActionRef, FieldValue, Runbook, Task};

/// Reads the rest of a runbook document once `kind` has been read.
pub(crate) fn read_runbook(walker: &mut Walker, mut object: ObjectReader<'_>) -> Runbook {
    let runbook = Runbook {
        name: object.required(walker, "name").unwrap_or_default(),
        workspace: object.optional(walker, "workspace"),
        description: object.optional(walker, "description"),
        custom_fields: object.or_default(walker, "custom_fields"),
        tasks: object.required(walker, "tasks").unwrap_or_default(),
    };
    object.finish(walker);
    runbook
}

impl FromNode for Task {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return Task {
                id: String::new(),
                name: String::new(),
                description: None,
                action: None,
                predecessors: Vec::new(),
                custom_fields: Default::default(),
                auto_start: false,
                fixed_start: None,
                duration_seconds: None,
                assignee: None,
            };
        };
        let task = Task {
            id: object.required(walker, "id").unwrap_or_default(),
            name: object.required(walker, "name").unwrap_or_default(),
            description: object.optional(walker, "description"),
            action: object.optional(walker, "action"),
            predecessors: object.or_default(walker, "predecessors"),
            custom_fields: object.or_default(walker, "custom_fields"),
            auto_start: object.or_default(walker, "auto_start"),
            fixed_start: object.optional(walker, "fixed_start"),
            duration_seconds: object.optional(walker, "duration_seconds"),
            assignee: object.optional(walker, "assignee"),
        };
        object.finish(walker);
        task
    }
}

impl FromNode for ActionRef {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let text = String::read(walker, node, path);
        ActionRef::parse(&text).unwrap_or_else(|| {
            if !text.is_empty() {
                walker.error_at(node, path, format!("`{text}` is not an `INTEGRATION/ACTION` reference"));
            }
            ActionRef { integration: String::new(), action: String::new() }
        })
    }
}

impl FromNode for FieldValue {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        match &node.value {
            NodeValue::Scalar(scalar) if scalar.kind != ScalarKind::Null => FieldValue::Text(scalar.text.clone()),
            NodeValue::Sequence(_) => FieldValue::List(Vec::read(walker, node, path)),
            _ => {
                walker.wrong_type(node, path, "a string or a list of strings");
                FieldValue::Text(String::new())
            }
        }
    }
}
