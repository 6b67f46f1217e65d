-- An event integration's latest deliveries (the console's Event integrations page) are read newest first without
-- sorting every delivery it ever made.
CREATE INDEX event_deliveries_latest ON event_deliveries (event_integration_id, event_id);
