-- What a transfer says about itself (issue 21): a description both parties see, and the
-- payer's own reference and metadata. They live on the transfer's own row (a pending transfer's
-- row; its posting carries none), so a statement line reads them through the transfer id it
-- already has. The bounds are the API's (docs/api.md), kept here too as the last net.

ALTER TABLE transfers
    ADD COLUMN description text
        CONSTRAINT transfers_description_length CHECK (char_length(description) <= 140),
    ADD COLUMN reference text
        CONSTRAINT transfers_reference_visible_ascii CHECK (reference ~ '^[!-~]{1,64}$'),
    ADD COLUMN metadata jsonb
        CONSTRAINT transfers_metadata_object CHECK (jsonb_typeof(metadata) = 'object');

-- A reference is unique per payer account: enforced here, so two journals (two replicas)
-- cannot both commit one. The journal inserts referenced rows with ON CONFLICT DO NOTHING on
-- this index and refuses only the items whose row was not inserted. The reference leads, so a
-- banker's search by reference alone reads this index too.
CREATE UNIQUE INDEX transfers_reference_per_payer ON transfers (reference, from_account_id)
    WHERE reference IS NOT NULL;

-- `GET /transfers?metadata.KEY=VALUE`: containment (`metadata @> '{"KEY": "VALUE"}'`) through
-- a GIN index of hashed paths, small because it indexes only rows with metadata.
CREATE INDEX transfers_metadata ON transfers USING gin (metadata jsonb_path_ops)
    WHERE metadata IS NOT NULL;

-- Refunds: a reversal is an ordinary posted transfer from the original's payee back to its
-- payer, naming the original (`reversal_of`). The original counts what was reversed of it, in the
-- reversal's own transaction (a trigger), and the CHECK keeps the sum within the original's
-- amount: two replicas racing refunds of one transfer serialise on its row, and the second past
-- the amount fails (the journal answers that item 409 `reversal_exceeds_original`).
ALTER TABLE transfers
    ADD COLUMN reversal_of bigint REFERENCES transfers (id),
    ADD COLUMN reversed_amount bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT transfers_reversed_within_amount CHECK (reversed_amount BETWEEN 0 AND amount);

CREATE FUNCTION tally_reversal_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE transfers SET reversed_amount = reversed_amount + NEW.amount WHERE id = NEW.reversal_of;
    RETURN NULL;
END $$;
CREATE TRIGGER transfers_reversal_counted AFTER INSERT ON transfers
    FOR EACH ROW WHEN (NEW.reversal_of IS NOT NULL)
    EXECUTE FUNCTION tally_reversal_counted();
