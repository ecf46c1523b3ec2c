-- Every event queues its webhook deliveries by construction: one per subscription of the event's org, or of
-- an org above it that includes its descendants, whose patterns name the event's kind, its object's
-- `<object>.*` or `*`. The engine does it inside the insert of the event, whatever path wrote it, so a
-- change costs no extra statement for its deliveries (and, while no org has a subscription, one probe).
CREATE FUNCTION events_queue_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (webhook_id, event_id, object_id, kind, state, next_at, created_at)
    WITH RECURSIVE up (id, depth) AS (
        SELECT NEW.org_id, 0
        UNION ALL SELECT o.parent_id, up.depth + 1 FROM orgs o JOIN up ON o.org_id = up.id
        WHERE o.parent_id IS NOT NULL AND up.depth < 64)
    SELECT DISTINCT w.webhook_id, NEW.event_id, NEW.object_id, NEW.kind, 'pending', NEW.at, NEW.at
    FROM webhook_kinds k
    JOIN webhooks w ON w.webhook_id = k.webhook_id
    JOIN up ON w.org_id = up.id
    WHERE k.pattern IN (NEW.kind, split_part(NEW.kind, '.', 1) || '.*', '*')
      AND (up.depth = 0 OR w.include_descendants = 1);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_queue_deliveries AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_queue_deliveries();

-- The deliverers' claim reads pending deliveries oldest first and, for each, whether its subscription and
-- object have an older one pending: both straight from an index, however long the delivered history grows.
DROP INDEX webhook_deliveries_due;
DROP INDEX webhook_deliveries_object;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (state, seq);
CREATE INDEX webhook_deliveries_object ON webhook_deliveries (webhook_id, object_id, state, seq);
