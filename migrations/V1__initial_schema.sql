-- Tally's first schema: everything API.md needs. The money invariants of DESIGN.md are enforced
-- here too, so a bug in the engine or a second replica can never break them silently.

CREATE TABLE users (
    username            text PRIMARY KEY,
    hashed_password     text NOT NULL,
    full_name           text NOT NULL,
    email               text NOT NULL UNIQUE,
    role                text NOT NULL DEFAULT 'depositor'
                        CONSTRAINT users_role_known CHECK (role IN ('depositor', 'banker')),
    password_changed_at timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    id               uuid PRIMARY KEY,
    username         text NOT NULL REFERENCES users (username),
    refresh_token_id uuid NOT NULL UNIQUE,
    user_agent       text NOT NULL,
    client_ip        text NOT NULL,
    is_blocked       boolean NOT NULL DEFAULT false,
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_by_username ON sessions (username);

CREATE TABLE accounts (
    id         bigserial PRIMARY KEY,
    -- NULL only for a currency's reserve account, which belongs to no user.
    owner      text REFERENCES users (username),
    balance    bigint NOT NULL DEFAULT 0,
    currency   text NOT NULL
               CONSTRAINT accounts_currency_known CHECK (currency IN ('USD', 'EUR', 'CAD', 'KRW', 'JPY', 'GBP')),
    kind       text NOT NULL DEFAULT 'customer'
               CONSTRAINT accounts_kind_known CHECK (kind IN ('customer', 'reserve')),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Invariant 4: only the reserve may go negative.
    CONSTRAINT accounts_no_overdraft CHECK (kind = 'reserve' OR balance >= 0),
    CONSTRAINT accounts_owner_matches_kind CHECK ((kind = 'reserve') = (owner IS NULL))
);
CREATE UNIQUE INDEX accounts_one_per_owner_and_currency ON accounts (owner, currency) WHERE kind = 'customer';
CREATE UNIQUE INDEX accounts_one_reserve_per_currency ON accounts (currency) WHERE kind = 'reserve';

-- Money enters only through the reserve (invariant 3): one per currency, created with the schema.
INSERT INTO accounts (owner, currency, kind)
SELECT NULL, currency, 'reserve'
FROM unnest(ARRAY['USD', 'EUR', 'CAD', 'KRW', 'JPY', 'GBP']) AS currency;

CREATE TABLE transfers (
    id              bigserial PRIMARY KEY,
    from_account_id bigint NOT NULL REFERENCES accounts (id),
    to_account_id   bigint NOT NULL REFERENCES accounts (id),
    amount          bigint NOT NULL CONSTRAINT transfers_amount_positive CHECK (amount > 0),
    currency        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transfers_distinct_accounts CHECK (from_account_id <> to_account_id)
);
CREATE INDEX transfers_by_from_account ON transfers (from_account_id, id);
CREATE INDEX transfers_by_to_account ON transfers (to_account_id, id);

-- Invariant 2: every transfer writes one debit (-amount) and one credit (+amount) entry.
CREATE TABLE entries (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    transfer_id bigint NOT NULL REFERENCES transfers (id),
    amount      bigint NOT NULL CONSTRAINT entries_amount_nonzero CHECK (amount <> 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- A statement: one account's entries, newest first, paged by id.
CREATE INDEX entries_by_account_newest_first ON entries (account_id, id DESC);
CREATE INDEX entries_by_transfer ON entries (transfer_id);

-- Invariant 6: a key is used once per user; the unique primary key makes concurrent duplicates
-- (even from two replicas) lose the race instead of moving money twice.
CREATE TABLE idempotency_keys (
    username        text NOT NULL REFERENCES users (username),
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    transfer_id     bigint NOT NULL REFERENCES transfers (id),
    response_status smallint NOT NULL,
    response_body   jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
