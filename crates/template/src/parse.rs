//! Our own parser of the template dialect: literal text, `{{ path | filter: args }}` placeholders, handlebars blocks
//! and comments, each node with its byte span so that every later error can point into the source.

use crate::TemplateError;
use crate::error::Location;
use crate::filters::FilterKind;

/// A byte range in the template source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }
}

/// The roots of the template context; a path starting with one of these reads from the context root, anywhere.
/// `Event` is set in event integrations' requests only.
pub(crate) const ROOTS: [&str; 7] =
    ["CustomField", "Task", "Runbook", "SystemParameter", "Callback", "Response", "Event"];

/// One piece of a parsed template.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Literal text, copied to the output as it is.
    Text(Span),
    /// A `{{ … }}` that outputs a value.
    Placeholder(Placeholder),
    /// A handlebars block with its branches.
    Block(Block),
    /// A `{{! … }}` or `{{!-- … --}}` comment.
    Comment(Span),
}

/// Whitespace control of a tag: `{{~` trims before, `~}}` trims after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Trim {
    pub(crate) before: bool,
    pub(crate) after: bool,
}

/// A `{{ expression }}` that outputs a value.
#[derive(Debug, Clone)]
pub(crate) struct Placeholder {
    /// From `{{` to `}}` inclusive.
    pub(crate) span: Span,
    pub(crate) expr: Expr,
    pub(crate) trim: Trim,
}

/// A value followed by filters: `Task.name | downcase | replace: 'a', 'b'`.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    pub(crate) head: Operand,
    pub(crate) filters: Vec<Filter>,
}

/// A filter application in a chain.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) kind: FilterKind,
    /// The filter's name as written.
    pub(crate) name_span: Span,
    pub(crate) args: Vec<Operand>,
}

/// A value: a path into the context or a literal.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Path(PathExpr),
    Literal { value: serde_json::Value },
}

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// At the context root: `CustomField[…]`, `Task.name`, `@root.Task.name`.
    Root,
    /// At the current block value: `this`, `name` inside `#each`, or `../name` (`up` levels above).
    Relative { up: usize },
    /// A block-local variable such as `@index` or `@key`.
    Local(String),
}

/// A path into the context.
#[derive(Debug, Clone)]
pub(crate) struct PathExpr {
    pub(crate) span: Span,
    pub(crate) anchor: Anchor,
    /// Keys from the anchor on; array indexes are keys made of digits.
    pub(crate) segments: Vec<String>,
    /// The path as written in the source.
    pub(crate) text: String,
}

/// The handlebars blocks the dialect passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    If,
    Unless,
    Each,
    With,
}

impl BlockKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::If => "if",
            Self::Unless => "unless",
            Self::Each => "each",
            Self::With => "with",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "if" => Self::If,
            "unless" => Self::Unless,
            "each" => Self::Each,
            "with" => Self::With,
            _ => return None,
        })
    }

    /// Whether the block's body sees a new current value (so relative paths are allowed inside).
    pub(crate) fn changes_scope(self) -> bool {
        matches!(self, Self::Each | Self::With)
    }
}

/// A block `{{#if x}}…{{else if y}}…{{else}}…{{/if}}`.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub(crate) kind: BlockKind,
    /// The opening tag.
    pub(crate) open: Span,
    pub(crate) open_trim: Trim,
    pub(crate) arg: Expr,
    pub(crate) body: Vec<Node>,
    /// `{{else}}` and `{{else if …}}` branches in order.
    pub(crate) branches: Vec<ElseBranch>,
    /// The closing tag.
    pub(crate) close: Span,
    /// Whitespace control of the closing tag.
    pub(crate) close_trim: Trim,
}

/// An `{{else}}` (no condition) or `{{else KIND expr}}` branch.
#[derive(Debug, Clone)]
pub(crate) struct ElseBranch {
    pub(crate) tag: Span,
    pub(crate) trim: Trim,
    pub(crate) chained: Option<(BlockKind, Expr)>,
    pub(crate) body: Vec<Node>,
}

/// Blocks nest at most this many levels deep, so that every recursive walk over a template (ours and handlebars'
/// rendering) has a bounded depth.
pub const MAX_BLOCK_NESTING: usize = 32;

/// A template holds at most this many blocks, which bounds the work of translating it to handlebars (see
/// `generate.rs`: runs of blocks separated only by whitespace are compiled by handlebars in one piece).
pub const MAX_BLOCKS: usize = 1_000;

/// Parses a whole template.
pub(crate) fn parse(source: &str) -> Result<Vec<Node>, TemplateError> {
    let mut parser = Parser { source, pos: 0, scopes: 0, depth: 0, blocks: 0 };
    let (nodes, end) = parser.nodes()?;
    match end {
        End::Eof => Ok(nodes),
        End::Close { span, .. } => Err(syntax(source, span.start, "this closing tag has no matching opening block")),
        End::Else { span, .. } => Err(syntax(source, span.start, "`{{else}}` outside a block")),
    }
}

fn syntax(source: &str, offset: usize, message: impl Into<String>) -> TemplateError {
    TemplateError::Syntax { at: Location::in_source(source, offset), message: message.into() }
}

/// What ended a run of nodes.
enum End {
    Eof,
    Close { span: Span, trim: Trim, name: String },
    Else { span: Span, trim: Trim, chained: Option<(BlockKind, Expr)> },
}

struct Parser<'s> {
    source: &'s str,
    pos: usize,
    /// How many enclosing blocks change the current value (`#each`, `#with`).
    scopes: usize,
    /// How many blocks enclose the current position.
    depth: usize,
    /// How many blocks have been opened so far.
    blocks: usize,
}

impl<'s> Parser<'s> {
    fn error(&self, offset: usize, message: impl Into<String>) -> TemplateError {
        syntax(self.source, offset, message)
    }

    /// Parses nodes until the end of the source, a closing tag or an else tag.
    fn nodes(&mut self) -> Result<(Vec<Node>, End), TemplateError> {
        let mut nodes = Vec::new();
        loop {
            let rest = &self.source[self.pos..];
            let Some(found) = rest.find("{{") else {
                if !rest.is_empty() {
                    nodes.push(Node::Text(Span::new(self.pos, self.source.len())));
                }
                self.pos = self.source.len();
                return Ok((nodes, End::Eof));
            };
            if found > 0 {
                nodes.push(Node::Text(Span::new(self.pos, self.pos + found)));
            }
            let open = self.pos + found;
            self.pos = open;
            if let Some(end) = self.tag(&mut nodes)? {
                return Ok((nodes, end));
            }
        }
    }

    /// Parses the tag at `self.pos` (which starts with `{{`), pushing a node or returning what ends the run.
    fn tag(&mut self, nodes: &mut Vec<Node>) -> Result<Option<End>, TemplateError> {
        let open = self.pos;
        let source = self.source;
        let after_open = &source[open + 2..];
        if after_open.starts_with('{') {
            return Err(self.error(
                open,
                "`{{{` is handlebars' unescaped output, which this dialect does not have: values are escaped by where \
                 they land; write `{{ … }}`, or put a space between a literal `{` and a placeholder",
            ));
        }
        if let Some(comment) = after_open.strip_prefix("!--") {
            let end = comment
                .find("--}}")
                .ok_or_else(|| self.error(open, "unclosed comment: `{{!--` needs a matching `--}}`"))?;
            self.pos = open + 5 + end + 4;
            nodes.push(Node::Comment(Span::new(open, self.pos)));
            return Ok(None);
        }
        if let Some(comment) = after_open.strip_prefix('!') {
            let end =
                comment.find("}}").ok_or_else(|| self.error(open, "unclosed comment: `{{!` needs a matching `}}`"))?;
            self.pos = open + 3 + end + 2;
            nodes.push(Node::Comment(Span::new(open, self.pos)));
            return Ok(None);
        }
        let close = find_tag_end(source, open + 2).ok_or_else(|| {
            self.error(open, "unclosed `{{`: a placeholder needs a matching `}}` (check quotes inside it too)")
        })?;
        let tag_span = Span::new(open, close + 2);
        self.pos = close + 2;
        let mut inner_start = open + 2;
        let mut inner_end = close;
        let mut trim = Trim::default();
        if source[inner_start..inner_end].starts_with('~') {
            trim.before = true;
            inner_start += 1;
        }
        if inner_end > inner_start && source[inner_start..inner_end].ends_with('~') {
            trim.after = true;
            inner_end -= 1;
        }
        let inner = &source[inner_start..inner_end];
        let mut cursor = Cursor { source, pos: inner_start, end: inner_end, scoped: self.scopes > 0 };
        cursor.skip_ws();
        match cursor.peek() {
            None => Err(self.error(open, "empty placeholder `{{}}`")),
            Some('#') => {
                cursor.pos += 1;
                if cursor.peek() == Some('>') || cursor.peek() == Some('*') {
                    return Err(self.error(open, "partials and decorators are not supported"));
                }
                let name_start = cursor.pos;
                let name = cursor.identifier();
                let kind = BlockKind::from_name(&name).ok_or_else(|| {
                    self.error(
                        name_start,
                        format!("unknown block `#{name}`: blocks are `#if`, `#unless`, `#each` and `#with`"),
                    )
                })?;
                cursor.expect_separator(&name)?;
                let arg = cursor.expression()?;
                cursor.finish()?;
                if self.depth >= MAX_BLOCK_NESTING {
                    return Err(self.error(open, format!("blocks nest more than {MAX_BLOCK_NESTING} levels deep")));
                }
                if self.blocks >= MAX_BLOCKS {
                    return Err(self.error(open, format!("a template holds at most {MAX_BLOCKS} blocks")));
                }
                self.blocks += 1;
                self.depth += 1;
                let block = self.block(kind, tag_span, trim, arg, nodes);
                self.depth -= 1;
                block.map(|()| None)
            }
            Some('/') => {
                cursor.pos += 1;
                cursor.skip_ws();
                let name = cursor.identifier();
                cursor.finish()?;
                Ok(Some(End::Close { span: tag_span, trim, name }))
            }
            Some('^') if inner.trim() == "^" => Ok(Some(End::Else { span: tag_span, trim, chained: None })),
            Some('>' | '*' | '&') => Err(self.error(open, "partials, decorators and `{{&` are not supported")),
            _ if cursor.keyword("else") => {
                cursor.skip_ws();
                if cursor.at_end() {
                    return Ok(Some(End::Else { span: tag_span, trim, chained: None }));
                }
                let name_start = cursor.pos;
                let name = cursor.identifier();
                let kind = BlockKind::from_name(&name).filter(|k| matches!(k, BlockKind::If | BlockKind::Unless));
                let kind = kind.ok_or_else(|| {
                    self.error(name_start, "`{{else …}}` may only chain `if` or `unless`: `{{else if x}}`")
                })?;
                cursor.expect_separator(&name)?;
                let arg = cursor.expression()?;
                cursor.finish()?;
                Ok(Some(End::Else { span: tag_span, trim, chained: Some((kind, arg)) }))
            }
            _ => {
                let expr = cursor.expression()?;
                cursor.finish()?;
                nodes.push(Node::Placeholder(Placeholder { span: tag_span, expr, trim }));
                Ok(None)
            }
        }
    }

    /// Parses a block's body and branches after its opening tag.
    fn block(
        &mut self,
        kind: BlockKind,
        open: Span,
        open_trim: Trim,
        arg: Expr,
        nodes: &mut Vec<Node>,
    ) -> Result<(), TemplateError> {
        let scoped = kind.changes_scope();
        self.scopes += usize::from(scoped);
        let (body, mut end) = self.nodes()?;
        self.scopes -= usize::from(scoped);
        let mut branches = Vec::new();
        loop {
            match end {
                End::Eof => {
                    return Err(self.error(
                        open.start,
                        format!(
                            "this `{{{{#{}}}}}` block is never closed: add `{{{{/{}}}}}`",
                            kind.name(),
                            kind.name()
                        ),
                    ));
                }
                End::Close { span, trim, name } => {
                    if name != kind.name() {
                        let opened = Location::in_source(self.source, open.start);
                        return Err(self.error(
                            span.start,
                            format!("`{{{{/{name}}}}}` closes the `{{{{#{}}}}}` opened at {opened}", kind.name()),
                        ));
                    }
                    nodes.push(Node::Block(Block {
                        kind,
                        open,
                        open_trim,
                        arg,
                        body,
                        branches,
                        close: span,
                        close_trim: trim,
                    }));
                    return Ok(());
                }
                End::Else { span, trim, chained } => {
                    if branches.last().is_some_and(|b: &ElseBranch| b.chained.is_none()) {
                        return Err(
                            self.error(span.start, "a block has at most one plain `{{else}}`, and it comes last")
                        );
                    }
                    let (branch_body, next) = self.nodes()?;
                    branches.push(ElseBranch { tag: span, trim, chained, body: branch_body });
                    end = next;
                }
            }
        }
    }
}

/// Finds the `}}` that closes the tag whose content starts at `from`, skipping quoted strings.
fn find_tag_end(source: &str, from: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'\'' || b == b'"' {
                    quote = Some(b);
                } else if b == b'}' && bytes.get(i + 1) == Some(&b'}') {
                    return Some(i);
                } else if b == b'{' && bytes.get(i + 1) == Some(&b'{') {
                    // A new `{{` before any `}}`: the previous one is unclosed.
                    return None;
                }
            }
        }
        i += 1;
    }
    None
}

/// Reads the inside of one tag.
struct Cursor<'s> {
    source: &'s str,
    pos: usize,
    end: usize,
    /// Whether the tag is inside a block that changes the current value, where relative paths are allowed.
    scoped: bool,
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '$'
}

impl<'s> Cursor<'s> {
    fn error(&self, offset: usize, message: impl Into<String>) -> TemplateError {
        syntax(self.source, offset, message)
    }

    fn rest(&self) -> &'s str {
        &self.source[self.pos..self.end]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn identifier(&mut self) -> String {
        let rest = self.rest();
        let len = rest.find(|c: char| !is_identifier_char(c)).unwrap_or(rest.len());
        self.pos += len;
        rest[..len].to_owned()
    }

    /// Consumes `word` when it stands alone (not the start of a longer identifier).
    fn keyword(&mut self, word: &str) -> bool {
        let rest = self.rest();
        if rest.starts_with(word) && !rest[word.len()..].starts_with(is_identifier_char) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// After a block name: whitespace, then something.
    fn expect_separator(&mut self, name: &str) -> Result<(), TemplateError> {
        let before = self.pos;
        self.skip_ws();
        if self.at_end() {
            return Err(self.error(before, format!("`#{name}` needs a value, as in `{{{{#{name} Task.name}}}}`")));
        }
        Ok(())
    }

    /// The tag must end here.
    fn finish(&mut self) -> Result<(), TemplateError> {
        self.skip_ws();
        if self.at_end() {
            return Ok(());
        }
        let rest = self.rest();
        let word: String = rest.chars().take_while(|c| !c.is_whitespace()).take(30).collect();
        let hint = if rest.starts_with(|c: char| is_identifier_char(c) || c == '@') {
            ": filters are written `{{ value | filter: argument }}`, not `{{ helper value }}`"
        } else {
            ""
        };
        Err(self.error(self.pos, format!("unexpected `{word}`{hint}")))
    }

    /// `operand ( '|' filter )*`.
    fn expression(&mut self) -> Result<Expr, TemplateError> {
        self.skip_ws();
        let head = self.operand()?;
        let mut filters = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() != Some('|') {
                break;
            }
            self.pos += 1;
            self.skip_ws();
            let name_start = self.pos;
            let name = self.identifier();
            if name.is_empty() {
                return Err(self.error(name_start, "expected a filter name after `|`"));
            }
            let name_span = Span::new(name_start, self.pos);
            let kind = FilterKind::from_name(&name).ok_or_else(|| {
                self.error(name_start, format!("unknown filter `{name}`; the filters are {}", FilterKind::list()))
            })?;
            self.skip_ws();
            let mut args = Vec::new();
            if self.peek() == Some(':') {
                self.pos += 1;
                loop {
                    self.skip_ws();
                    args.push(self.operand()?);
                    self.skip_ws();
                    if self.peek() == Some(',') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
            }
            let (min, max) = kind.arity();
            if args.len() < min || args.len() > max {
                let expected = match (min, max) {
                    (0, 0) => "no arguments".to_owned(),
                    (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
                    (a, b) => format!("{a} to {b} arguments"),
                };
                return Err(self.error(
                    name_start,
                    format!("`{name}` takes {expected} (`{}`), {} given", kind.usage(), args.len()),
                ));
            }
            filters.push(Filter { kind, name_span, args });
        }
        Ok(Expr { head, filters })
    }

    /// A literal or a path.
    fn operand(&mut self) -> Result<Operand, TemplateError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.error(start, "expected a value"));
        };
        if c == '\'' || c == '"' {
            let text = self.quoted()?;
            return Ok(Operand::Literal { value: serde_json::Value::String(text) });
        }
        if c.is_ascii_digit() || (c == '-' && self.rest()[1..].starts_with(|d: char| d.is_ascii_digit())) {
            return self.number();
        }
        for (word, value) in [
            ("true", serde_json::Value::Bool(true)),
            ("false", serde_json::Value::Bool(false)),
            ("null", serde_json::Value::Null),
            ("nil", serde_json::Value::Null),
        ] {
            if self.keyword(word) {
                return Ok(Operand::Literal { value });
            }
        }
        self.path().map(Operand::Path)
    }

    fn number(&mut self) -> Result<Operand, TemplateError> {
        let start = self.pos;
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
            .map_or(rest.len(), |(i, _)| i);
        let text = &rest[..len];
        self.pos += len;
        if self.peek().is_some_and(is_identifier_char) {
            return Err(self.error(start, format!("`{text}…` is neither a number nor a path")));
        }
        let value = if let Ok(int) = text.parse::<i64>() {
            serde_json::Value::from(int)
        } else {
            let float: f64 = text.parse().map_err(|_| self.error(start, format!("`{text}` is not a number")))?;
            serde_json::Number::from_f64(float)
                .map(serde_json::Value::Number)
                .ok_or_else(|| self.error(start, format!("`{text}` is not a finite number")))?
        };
        Ok(Operand::Literal { value })
    }

    /// A quoted string with `\\`, `\'`, `\"`, `\n`, `\t` escapes; `self.pos` is at the opening quote.
    fn quoted(&mut self) -> Result<String, TemplateError> {
        let start = self.pos;
        let quote = self.peek().unwrap_or('\'');
        self.pos += 1;
        let mut text = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos += i + 1;
                return Ok(text);
            }
            if c == '\\' {
                match chars.next() {
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, 't')) => text.push('\t'),
                    Some((_, 'r')) => text.push('\r'),
                    Some((_, escaped)) => text.push(escaped),
                    None => break,
                }
            } else {
                text.push(c);
            }
        }
        Err(self.error(start, format!("unclosed string: the `{quote}` here is never closed")))
    }

    /// A path: `Root.a['b c'].0`, `@root.Task.name`, `this`, `this.name`, `../name`, `@index`.
    fn path(&mut self) -> Result<PathExpr, TemplateError> {
        let start = self.pos;
        let mut segments = Vec::new();
        let anchor;
        if self.rest().starts_with("@root") && !self.rest()[5..].starts_with(is_identifier_char) {
            self.pos += 5;
            anchor = Anchor::Root;
            if !self.segment_separator()? {
                return Err(self.error(start, "`@root` must be followed by a path, as in `@root.Task.name`"));
            }
            segments.push(self.segment()?);
        } else if self.peek() == Some('@') {
            self.pos += 1;
            let name = self.identifier();
            if name.is_empty() {
                return Err(self.error(start, "expected a variable name after `@`, such as `@index`"));
            }
            anchor = Anchor::Local(name);
            if !self.scoped {
                return Err(self.error(start, "`@` variables such as `@index` exist only inside `#each`"));
            }
        } else if self.keyword("this") {
            anchor = Anchor::Relative { up: 0 };
        } else {
            let mut up = 0;
            while self.rest().starts_with("../") {
                self.pos += 3;
                up += 1;
            }
            let first_start = self.pos;
            let first = if self.peek() == Some('[') { self.bracket()? } else { self.identifier() };
            if first.is_empty() {
                let found: String = self.rest().chars().take(10).collect();
                return Err(self.error(first_start, format!("expected a value such as `Task.name`, found `{found}`")));
            }
            if up == 0 && ROOTS.contains(&first.as_str()) {
                anchor = Anchor::Root;
            } else if self.scoped {
                anchor = Anchor::Relative { up };
            } else {
                return Err(self.error(
                    first_start,
                    format!("unknown name `{first}`: paths start with {}", ROOTS.map(|r| format!("`{r}`")).join(", ")),
                ));
            }
            segments.push(first);
        }
        while self.segment_separator()? {
            segments.push(self.segment()?);
        }
        let text = self.source[start..self.pos].to_owned();
        Ok(PathExpr { span: Span::new(start, self.pos), anchor, segments, text })
    }

    /// Consumes a `.` before a segment, or sees a `[`; returns whether a segment follows.
    fn segment_separator(&mut self) -> Result<bool, TemplateError> {
        match self.peek() {
            Some('.') => {
                self.pos += 1;
                if self.peek().is_some_and(|c| is_identifier_char(c) || c == '[') {
                    Ok(true)
                } else {
                    Err(self.error(self.pos, "expected a name after `.`"))
                }
            }
            Some('[') => Ok(true),
            _ => Ok(false),
        }
    }

    fn segment(&mut self) -> Result<String, TemplateError> {
        if self.peek() == Some('[') {
            return self.bracket();
        }
        let start = self.pos;
        let name = self.identifier();
        if name.is_empty() {
            return Err(self.error(start, "expected a name"));
        }
        Ok(name)
    }

    /// `['key']`, `["key"]`, `[0]` or handlebars' `[key]`; `self.pos` is at `[`.
    fn bracket(&mut self) -> Result<String, TemplateError> {
        let open = self.pos;
        self.pos += 1;
        self.skip_ws();
        let key = if matches!(self.peek(), Some('\'' | '"')) {
            let key = self.quoted()?;
            self.skip_ws();
            key
        } else {
            let rest = self.rest();
            let len = rest.find(']').unwrap_or(rest.len());
            let key = rest[..len].trim_end().to_owned();
            self.pos += len;
            key
        };
        if self.peek() != Some(']') {
            return Err(self.error(open, "unclosed `[`: write `['Name']`"));
        }
        self.pos += 1;
        Ok(key)
    }
}

/// Calls `visit` on every path of one expression: its head and its filters' arguments.
pub(crate) fn visit_expr_paths<'a>(e: &'a Expr, visit: &mut dyn FnMut(&'a PathExpr)) {
    for operand in std::iter::once(&e.head).chain(e.filters.iter().flat_map(|f| f.args.iter())) {
        if let Operand::Path(path) = operand {
            visit(path);
        }
    }
}

/// Calls `visit` on every path in `nodes`, with whether it is inside a block that changes scope.
pub(crate) fn visit_paths<'a>(nodes: &'a [Node], visit: &mut dyn FnMut(&'a PathExpr)) {
    let expr = visit_expr_paths;
    for node in nodes {
        match node {
            Node::Placeholder(p) => expr(&p.expr, visit),
            Node::Block(b) => {
                expr(&b.arg, visit);
                visit_paths(&b.body, visit);
                for branch in &b.branches {
                    if let Some((_, e)) = &branch.chained {
                        expr(e, visit);
                    }
                    visit_paths(&branch.body, visit);
                }
            }
            Node::Text(_) | Node::Comment(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single_path(source: &str) -> PathExpr {
        let nodes = parse(source).unwrap();
        match &nodes[0] {
            Node::Placeholder(Placeholder { expr: Expr { head: Operand::Path(p), .. }, .. }) => p.clone(),
            other => panic!("not a path placeholder: {other:?}"),
        }
    }

    #[test]
    fn paths_in_every_form() {
        let cases: &[(&str, &[&str])] = &[
            ("{{CustomField['Slack Channel']}}", &["CustomField", "Slack Channel"]),
            ("{{ CustomField[\"it's\"] }}", &["CustomField", "it's"]),
            ("{{CustomField['a]b']}}", &["CustomField", "a]b"]),
            ("{{CustomField['q\\'s']}}", &["CustomField", "q's"]),
            ("{{Task.assignee.email}}", &["Task", "assignee", "email"]),
            ("{{Task.list[0].name}}", &["Task", "list", "0", "name"]),
            ("{{Task.list.[Odd key]}}", &["Task", "list", "Odd key"]),
            ("{{@root.Task.name}}", &["Task", "name"]),
        ];
        for (source, segments) in cases {
            let path = single_path(source);
            assert_eq!(path.anchor, Anchor::Root, "{source}");
            assert_eq!(&path.segments, segments, "{source}");
        }
    }

    #[test]
    fn filters_with_arguments() {
        let nodes = parse("{{ Task.name | downcase | replace: 'a', \"b\" | plus: -1.5 }}").unwrap();
        let Node::Placeholder(p) = &nodes[0] else { panic!() };
        let names: Vec<_> = p.expr.filters.iter().map(|f| f.kind.name()).collect();
        assert_eq!(names, ["downcase", "replace", "plus"]);
        assert_eq!(p.expr.filters[1].args.len(), 2);
    }

    /// `levels` blocks inside each other around a placeholder, on one line.
    fn nested_ifs(levels: usize) -> String {
        format!("{}{{{{Task.name}}}}{}", "{{#if Task.name}}".repeat(levels), "{{/if}}".repeat(levels))
    }

    #[test]
    fn block_nesting_is_limited_with_a_position() {
        assert!(parse(&nested_ifs(MAX_BLOCK_NESTING)).is_ok());
        for levels in [MAX_BLOCK_NESTING + 1, 200, 20_000] {
            let error = parse(&nested_ifs(levels)).unwrap_err();
            let column = MAX_BLOCK_NESTING as u32 * "{{#if Task.name}}".len() as u32 + 1;
            assert_eq!(error.location().map(|at| (at.line, at.column)), Some((1, column)), "{levels}");
            assert_eq!(error.message(), "blocks nest more than 32 levels deep");
        }
    }

    #[test]
    fn blocks_are_counted() {
        let blocks = |count: usize| "{{#if Task.name}}x{{/if}}".repeat(count);
        assert!(parse(&blocks(MAX_BLOCKS)).is_ok());
        let error = parse(&blocks(MAX_BLOCKS + 1)).unwrap_err();
        let column = MAX_BLOCKS as u32 * "{{#if Task.name}}x{{/if}}".len() as u32 + 1;
        assert_eq!(error.location().map(|at| (at.line, at.column)), Some((1, column)));
        assert_eq!(error.message(), "a template holds at most 1000 blocks");
    }

    #[test]
    fn triple_close_leaves_a_literal_brace() {
        let nodes = parse("{\"t\":\"{{CustomField['M']}}}").unwrap();
        assert!(matches!(nodes.last(), Some(Node::Text(span)) if span.end - span.start == 1));
    }
}
