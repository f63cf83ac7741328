-- The engine knows nothing of HTTP: an idempotency row keeps what the request was and what it
-- produced, not the HTTP status a route answered with. `operation` names the kind of request
-- (transfer, deposit, withdrawal, ...); the route that replays it knows its own status.
ALTER TABLE idempotency_keys ADD COLUMN operation text;
UPDATE idempotency_keys SET operation = 'transfer';
ALTER TABLE idempotency_keys
    ALTER COLUMN operation SET NOT NULL,
    DROP COLUMN response_status;
ALTER TABLE idempotency_keys RENAME COLUMN response_body TO outcome;
