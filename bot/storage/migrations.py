"""Numbered schema migrations. Each is applied once, in one transaction, tracked by `PRAGMA user_version`.

Never edit a migration that has shipped: add the next one. The SQL stays close to standard so a
PostgreSQL backend can follow (no SQLite-only functions where a standard one exists).
"""

from __future__ import annotations

# Timestamps are ISO 8601 text in UTC; days are 'YYYY-MM-DD'; money is integer micro-dollars.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: servers, budgets, the ledger and jobs
    (
        """CREATE TABLE guild_settings (
            guild_id            INTEGER PRIMARY KEY,
            member_daily_limit  INTEGER CHECK (member_daily_limit >= 0),
            guild_daily_limit   INTEGER CHECK (guild_daily_limit >= 0),
            timezone            TEXT NOT NULL DEFAULT 'UTC',
            mod_channel_id      INTEGER,
            paused              BOOLEAN NOT NULL DEFAULT FALSE,
            safety_charged      BOOLEAN NOT NULL DEFAULT FALSE,
            member_max_jobs     INTEGER CHECK (member_max_jobs > 0),
            updated_at          TEXT NOT NULL
        )""",
        """CREATE TABLE budget_overrides (
            guild_id     INTEGER NOT NULL,
            kind         TEXT NOT NULL CHECK (kind IN ('role', 'member')),
            target_id    INTEGER NOT NULL,
            daily_limit  INTEGER NOT NULL CHECK (daily_limit >= 0),
            PRIMARY KEY (guild_id, kind, target_id)
        )""",
        # One row per job's reservation. Rows outlive their jobs, so totals stay right when a
        # member's history is forgotten.
        """CREATE TABLE reservations (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id     INTEGER NOT NULL,
            member_id    INTEGER NOT NULL,
            day          TEXT NOT NULL,
            utc_day      TEXT NOT NULL,
            unit_price   INTEGER NOT NULL CHECK (unit_price >= 0),
            images       INTEGER NOT NULL CHECK (images > 0),
            charged_images INTEGER NOT NULL DEFAULT 0,
            state        TEXT NOT NULL CHECK (state IN ('reserved', 'charged', 'released')),
            created_at   TEXT NOT NULL,
            settled_at   TEXT
        )""",
        "CREATE INDEX reservations_open ON reservations (state) WHERE state = 'reserved'",
        # Running totals per member, per server and for the operator, per day: the budget check
        # reads three rows instead of summing the day's reservations.
        """CREATE TABLE daily_totals (
            scope      TEXT NOT NULL CHECK (scope IN ('member', 'guild', 'global')),
            guild_id   INTEGER NOT NULL,
            member_id  INTEGER NOT NULL,
            day        TEXT NOT NULL,
            reserved   INTEGER NOT NULL DEFAULT 0,
            charged    INTEGER NOT NULL DEFAULT 0,
            images     INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (scope, guild_id, member_id, day)
        )""",
        # The running totals follow the reservations by trigger, so no code path can let them drift.
        """CREATE TRIGGER reservation_made AFTER INSERT ON reservations BEGIN
            INSERT INTO daily_totals (scope, guild_id, member_id, day, reserved)
            VALUES ('member', NEW.guild_id, NEW.member_id, NEW.day, NEW.unit_price * NEW.images),
                   ('guild', NEW.guild_id, 0, NEW.day, NEW.unit_price * NEW.images),
                   ('global', 0, 0, NEW.utc_day, NEW.unit_price * NEW.images)
            ON CONFLICT (scope, guild_id, member_id, day)
            DO UPDATE SET reserved = daily_totals.reserved + excluded.reserved;
        END""",
        """CREATE TRIGGER reservation_settled AFTER UPDATE OF state ON reservations
        WHEN OLD.state = 'reserved' AND NEW.state <> 'reserved' BEGIN
            UPDATE daily_totals SET
                reserved = reserved - NEW.unit_price * NEW.images,
                charged = charged + NEW.unit_price * NEW.charged_images,
                images = images + NEW.charged_images
            WHERE (scope = 'member' AND guild_id = NEW.guild_id AND member_id = NEW.member_id AND day = NEW.day)
               OR (scope = 'guild' AND guild_id = NEW.guild_id AND member_id = 0 AND day = NEW.day)
               OR (scope = 'global' AND guild_id = 0 AND member_id = 0 AND day = NEW.utc_day);
        END""",
        """CREATE TABLE jobs (
            id                  INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id            INTEGER NOT NULL,
            channel_id          INTEGER NOT NULL,
            member_id           INTEGER NOT NULL,
            role_ids            TEXT NOT NULL DEFAULT '',
            prompt              TEXT NOT NULL,
            size                TEXT NOT NULL,
            image_size          TEXT NOT NULL,
            seed                INTEGER,
            count               INTEGER NOT NULL CHECK (count BETWEEN 1 AND 4),
            output_format       TEXT NOT NULL,
            parent_id           INTEGER,
            state               TEXT NOT NULL,
            reservation_id      INTEGER REFERENCES reservations (id),
            cost                INTEGER NOT NULL,
            queue_position      INTEGER,
            request_id          TEXT,
            polling_url         TEXT,
            images_delivered    INTEGER NOT NULL DEFAULT 0,
            failure_kind        TEXT,
            failure_reason      TEXT,
            application_id      INTEGER,
            interaction_token   TEXT,
            token_expires_at    TEXT,
            message_id          INTEGER,
            channel_message_id  INTEGER,
            attachment_limit    INTEGER,
            notified            BOOLEAN NOT NULL DEFAULT FALSE,
            created_at          TEXT NOT NULL,
            updated_at          TEXT NOT NULL,
            finished_at         TEXT
        )""",
        "CREATE INDEX jobs_unfinished ON jobs (state) WHERE state NOT IN ('delivered', 'failed', 'cancelled')",
        "CREATE INDEX jobs_member ON jobs (guild_id, member_id, created_at)",
        "CREATE INDEX jobs_unnotified ON jobs (id) WHERE notified = FALSE",
    ),
    # 2: moderation, channel rules, and the bot's own bookkeeping
    (
        """CREATE TABLE allowed_channels (
            guild_id    INTEGER NOT NULL,
            channel_id  INTEGER NOT NULL,
            PRIMARY KEY (guild_id, channel_id)
        )""",
        """CREATE TABLE blocked_terms (
            guild_id  INTEGER NOT NULL,
            term      TEXT NOT NULL,
            PRIMARY KEY (guild_id, term)
        )""",
        """CREATE TABLE blocks (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id      INTEGER NOT NULL,
            member_id     INTEGER NOT NULL,
            until         TEXT,
            reason        TEXT,
            moderator_id  INTEGER,
            created_at    TEXT NOT NULL,
            lifted_at     TEXT,
            lifted_by     INTEGER
        )""",
        "CREATE INDEX blocks_member ON blocks (guild_id, member_id)",
        """CREATE TABLE safety_reports (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id         INTEGER NOT NULL,
            channel_id       INTEGER NOT NULL,
            member_id        INTEGER NOT NULL,
            job_id           INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
            prompt           TEXT,
            reason           TEXT NOT NULL,
            source           TEXT NOT NULL CHECK (source IN ('safety', 'blocked_term', 'member')),
            state            TEXT NOT NULL CHECK (state IN ('open', 'dismissed', 'actioned')),
            reporter_id      INTEGER,
            moderator_id     INTEGER,
            decision         TEXT,
            decided_at       TEXT,
            card_channel_id  INTEGER,
            card_message_id  INTEGER,
            created_at       TEXT NOT NULL
        )""",
        "CREATE INDEX safety_reports_member ON safety_reports (guild_id, member_id, created_at)",
        "CREATE INDEX safety_reports_open ON safety_reports (guild_id, state, created_at)",
        """CREATE TABLE app_state (
            key    TEXT PRIMARY KEY,
            value  TEXT NOT NULL
        )""",
    ),
    # 3: the names members had when they last asked, for spend reports
    (
        """CREATE TABLE member_names (
            guild_id    INTEGER NOT NULL,
            member_id   INTEGER NOT NULL,
            name        TEXT NOT NULL,
            updated_at  TEXT NOT NULL,
            PRIMARY KEY (guild_id, member_id)
        )""",
    ),
    # 4: which sink made a job, when it was sent, the result being posted, interactions awaiting a job,
    # and one report per image however many press Report
    (
        "ALTER TABLE jobs ADD COLUMN origin TEXT NOT NULL DEFAULT 'discord'",
        "UPDATE jobs SET origin = 'terminal' WHERE guild_id = 0 AND channel_id = 0",
        "ALTER TABLE jobs ADD COLUMN sent_at TEXT",
        "ALTER TABLE jobs ADD COLUMN images_posting INTEGER",
        "DROP INDEX jobs_unfinished",
        "CREATE INDEX jobs_unfinished ON jobs (origin, state) WHERE state NOT IN ('delivered', 'failed', 'cancelled')",
        """CREATE TABLE pending_interactions (
            id              INTEGER PRIMARY KEY,
            application_id  INTEGER NOT NULL,
            token           TEXT NOT NULL,
            guild_id        INTEGER NOT NULL,
            channel_id      INTEGER NOT NULL,
            member_id       INTEGER NOT NULL,
            expires_at      TEXT NOT NULL,
            created_at      TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX safety_reports_one_per_image ON safety_reports (job_id) "
        "WHERE source = 'member' AND state = 'open'",
    ),
    # 5: leases. A job (or an interaction awaiting one) is worked on by the process named in lease_owner until
    # lease_until, in milliseconds since 1970 by the database's clock; the owner's heartbeat moves it on.
    (
        "ALTER TABLE jobs ADD COLUMN lease_owner TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_until INTEGER",
        "CREATE INDEX jobs_leased ON jobs (lease_owner) WHERE lease_owner IS NOT NULL",
        "ALTER TABLE pending_interactions ADD COLUMN lease_owner TEXT",
        "ALTER TABLE pending_interactions ADD COLUMN lease_until INTEGER",
    ),
    # 6: logins to Discord's gateway, paced for the whole deployment: the next moment (milliseconds by the
    # database's clock) a shard of each of Discord's identify buckets may log in.
    ("CREATE TABLE login_turns (bucket INTEGER PRIMARY KEY, next_at INTEGER NOT NULL)",),
    # 7: the processes running now, each until its heartbeat is due (milliseconds by the database's clock):
    # they share the deployment's ceiling on the rate of calls to Pixazo.
    ("CREATE TABLE workers (name TEXT PRIMARY KEY, seen_until INTEGER NOT NULL)",),
    # 8: members' requests for a review of their block (one per block, its card in the moderator channel), and
    # the members who asked to be forgotten: a report still open then loses its prompt when it is decided.
    (
        """CREATE TABLE appeals (
            block_id         INTEGER PRIMARY KEY REFERENCES blocks (id),
            guild_id         INTEGER NOT NULL,
            member_id        INTEGER NOT NULL,
            state            TEXT NOT NULL CHECK (state IN ('open', 'lifted', 'kept')),
            moderator_id     INTEGER,
            decided_at       TEXT,
            card_channel_id  INTEGER,
            card_message_id  INTEGER,
            created_at       TEXT NOT NULL
        )""",
        """CREATE TABLE forgotten_members (
            guild_id      INTEGER NOT NULL,
            member_id     INTEGER NOT NULL,
            forgotten_at  TEXT NOT NULL,
            PRIMARY KEY (guild_id, member_id)
        )""",
    ),
    # 9: styles (a server's named prompt templates, found by their case-folded name), members' own defaults for
    # /imagine, and on each job the style it used with the member's own words (its prompt is the expanded text)
    (
        """CREATE TABLE styles (
            guild_id    INTEGER NOT NULL,
            key         TEXT NOT NULL,
            name        TEXT NOT NULL,
            template    TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (guild_id, key)
        )""",
        """CREATE TABLE preferences (
            guild_id    INTEGER NOT NULL,
            member_id   INTEGER NOT NULL,
            size        TEXT,
            count       INTEGER CHECK (count BETWEEN 1 AND 4),
            updated_at  TEXT NOT NULL,
            PRIMARY KEY (guild_id, member_id)
        )""",
        "ALTER TABLE jobs ADD COLUMN style TEXT",
        "ALTER TABLE jobs ADD COLUMN member_prompt TEXT",
    ),
)
