-- PostgreSQL twin of migrations/sqlite/0002_swaps.sql: the same tables and columns, so the
-- store runs the same queries on both. The differences: integers are BIGINT (PostgreSQL's
-- INTEGER is 32-bit), BLOB is BYTEA, the append-only rules are plpgsql trigger functions, and
-- two things SQLite provides implicitly are spelled out (see `swaps.rowid` and
-- `audit_log_sequence`).
-- Amounts are integers (satoshi, piconero); times are Unix seconds unless named *_ms.
-- Enums (role, network, phase) are stored as their variant names. Every `state`/`value`
-- BYTEA is sealed by the vault (XChaCha20-Poly1305, bound to its row by the AEAD's
-- associated data); everything else is plaintext and holds no secret.

-- One row: the random data key wrapped with a key derived from the password (argon2id), and
-- the wallet secret sealed with the data key.
CREATE TABLE vault (
    id                 BIGINT  PRIMARY KEY CHECK (id = 1),
    kdf_memory_kib     BIGINT  NOT NULL,
    kdf_iterations     BIGINT  NOT NULL,
    kdf_parallelism    BIGINT  NOT NULL,
    salt               BYTEA   NOT NULL,
    wrapped_key        BYTEA   NOT NULL,
    wallet_secret      BYTEA   NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);

-- One row per swap: a plaintext summary and the current state (the sealed blob of history
-- entry `state_seq`). `rowid` is the insertion order, named after SQLite's implicit column so
-- that listings order ties the same way on both databases.
CREATE TABLE swaps (
    swap_id            TEXT    PRIMARY KEY NOT NULL CHECK (length(swap_id) = 64),
    role               TEXT    NOT NULL,
    peer               TEXT    NOT NULL,
    network            TEXT    NOT NULL,
    btc_sat            BIGINT  NOT NULL CHECK (btc_sat >= 0),
    xmr_piconero       BIGINT  NOT NULL CHECK (xmr_piconero >= 0),
    receive_address    TEXT,
    state_name         TEXT    NOT NULL,
    phase              TEXT    NOT NULL,
    state_seq          BIGINT  NOT NULL,
    state              BYTEA   NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    rowid              BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE INDEX swaps_created ON swaps (created_at);
CREATE INDEX swaps_phase ON swaps (phase);

-- Every state a swap was saved in, in order (append-only).
CREATE TABLE swap_states (
    swap_id            TEXT    NOT NULL REFERENCES swaps (swap_id),
    seq                BIGINT  NOT NULL CHECK (seq >= 0),
    state_name         TEXT    NOT NULL,
    phase              TEXT    NOT NULL,
    state              BYTEA   NOT NULL,
    created_at         BIGINT  NOT NULL,
    PRIMARY KEY (swap_id, seq)
);

-- Engine-side data of a swap (e.g. a prepared XMR transfer), sealed, upserted.
CREATE TABLE swap_data (
    swap_id            TEXT    NOT NULL REFERENCES swaps (swap_id),
    key                TEXT    NOT NULL,
    value              BYTEA   NOT NULL,
    updated_at         BIGINT  NOT NULL,
    PRIMARY KEY (swap_id, key)
);

-- Known peers (libp2p PeerId and multiaddresses as a JSON array of strings).
CREATE TABLE peers (
    peer_id            TEXT    PRIMARY KEY NOT NULL,
    addresses          TEXT    NOT NULL,
    last_seen          BIGINT  NOT NULL
);

-- The audit log: plaintext evidence, each entry's hash covering the previous one's
-- (see crates/store/src/audit.rs for the exact encoding). The store chooses the ids; UNIQUE
-- (prev_hash) stops the chain forking.
CREATE TABLE audit_log (
    id                 BIGINT  PRIMARY KEY,
    at_ms              BIGINT  NOT NULL,
    swap_id            TEXT    CHECK (swap_id IS NULL OR length(swap_id) = 64),
    kind               TEXT    NOT NULL,
    detail             TEXT    NOT NULL,
    prev_hash          BYTEA   NOT NULL UNIQUE CHECK (length(prev_hash) = 32),
    hash               BYTEA   NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_swap ON audit_log (swap_id, id);

-- The highest audit id ever inserted, kept in the inserting transaction (what SQLite's
-- AUTOINCREMENT keeps in sqlite_sequence): ids are never reused, so a deleted tail shows up
-- as a gap. A PostgreSQL sequence would not do: it is not rolled back with its transaction,
-- and a failed append would leave a gap that reads as a deletion.
CREATE TABLE audit_log_sequence (
    name               TEXT    PRIMARY KEY NOT NULL,
    seq                BIGINT  NOT NULL
);
CREATE FUNCTION audit_log_track_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log_sequence (name, seq) VALUES ('audit_log', NEW.id)
        ON CONFLICT (name) DO UPDATE
        SET seq = GREATEST(audit_log_sequence.seq, EXCLUDED.seq);
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_track_id AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_track_id();

-- The history and the audit log are append-only, enforced by the database (TRUNCATE too,
-- which skips row triggers).
CREATE FUNCTION refuse_append_only_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER swap_states_no_update BEFORE UPDATE ON swap_states
    FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER swap_states_no_delete BEFORE DELETE ON swap_states
    FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER swap_states_no_truncate BEFORE TRUNCATE ON swap_states
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_append_only_change();
