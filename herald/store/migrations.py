"""Versioned schema migrations, applied in order on start; never edit a released one.

The SQL is kept to what SQLite and PostgreSQL both accept, so one list serves both stores.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                created_at DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE access_keys (
                access_key_id TEXT PRIMARY KEY,
                secret TEXT NOT NULL,
                account_id TEXT NOT NULL REFERENCES accounts(id),
                principal_arn TEXT NOT NULL,
                user_id TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE topics (
                arn TEXT PRIMARY KEY,
                account_id TEXT NOT NULL,
                region TEXT NOT NULL,
                name TEXT NOT NULL,
                attributes TEXT NOT NULL,
                subscriptions_deleted INTEGER NOT NULL DEFAULT 0,
                created_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX topics_by_owner ON topics(account_id, region, arn)",
            """CREATE TABLE tags (
                resource_arn TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (resource_arn, key)
            )""",
            """CREATE TABLE subscriptions (
                arn TEXT PRIMARY KEY,
                topic_arn TEXT NOT NULL,
                owner TEXT NOT NULL,
                protocol TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                attributes TEXT NOT NULL,
                confirmed INTEGER NOT NULL,
                token TEXT,
                token_expires_at DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL,
                UNIQUE (topic_arn, protocol, endpoint)
            )""",
            "CREATE INDEX subscriptions_by_token ON subscriptions(token)",
            """CREATE TABLE messages (
                message_id TEXT PRIMARY KEY,
                topic_arn TEXT NOT NULL,
                subject TEXT,
                body BLOB NOT NULL,
                body_format TEXT NOT NULL,
                message_structure TEXT,
                attributes TEXT NOT NULL,
                group_id TEXT,
                deduplication_id TEXT,
                sequence_number TEXT,
                publisher_arn TEXT NOT NULL,
                published_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX messages_by_topic ON messages(topic_arn, published_at)",
        ],
    ),
    (
        2,
        [
            """CREATE TABLE iam_users (
                account_id TEXT NOT NULL,
                name TEXT NOT NULL,
                user_id TEXT NOT NULL UNIQUE,
                arn TEXT NOT NULL UNIQUE,
                path TEXT NOT NULL,
                tags TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (account_id, name)
            )""",
            """CREATE TABLE inline_policies (
                principal_arn TEXT NOT NULL,
                name TEXT NOT NULL,
                document TEXT NOT NULL,
                PRIMARY KEY (principal_arn, name)
            )""",
            "CREATE INDEX access_keys_by_principal ON access_keys(principal_arn)",
        ],
    ),
    (
        3,
        [
            """CREATE TABLE iam_groups (
                account_id TEXT NOT NULL,
                name TEXT NOT NULL,
                group_id TEXT NOT NULL UNIQUE,
                arn TEXT NOT NULL UNIQUE,
                path TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (account_id, name)
            )""",
            """CREATE TABLE iam_group_members (
                account_id TEXT NOT NULL,
                group_name TEXT NOT NULL,
                user_name TEXT NOT NULL,
                PRIMARY KEY (account_id, group_name, user_name)
            )""",
            "CREATE INDEX iam_groups_by_user ON iam_group_members(account_id, user_name)",
        ],
    ),
    (
        4,
        [
            """CREATE TABLE iam_roles (
                account_id TEXT NOT NULL,
                name TEXT NOT NULL,
                role_id TEXT NOT NULL UNIQUE,
                arn TEXT NOT NULL UNIQUE,
                path TEXT NOT NULL,
                trust_policy TEXT NOT NULL,
                description TEXT,
                max_session_duration INTEGER NOT NULL,
                tags TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (account_id, name)
            )""",
            """CREATE TABLE managed_policies (
                arn TEXT PRIMARY KEY,
                account_id TEXT NOT NULL,
                name TEXT NOT NULL,
                policy_id TEXT NOT NULL UNIQUE,
                path TEXT NOT NULL,
                description TEXT,
                default_version TEXT NOT NULL,
                next_version INTEGER NOT NULL,
                tags TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                UNIQUE (account_id, name)
            )""",
            """CREATE TABLE policy_versions (
                policy_arn TEXT NOT NULL,
                version_id TEXT NOT NULL,
                document TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (policy_arn, version_id)
            )""",
            """CREATE TABLE policy_attachments (
                principal_arn TEXT NOT NULL,
                policy_arn TEXT NOT NULL,
                PRIMARY KEY (principal_arn, policy_arn)
            )""",
            "CREATE INDEX policy_attachments_by_policy ON policy_attachments(policy_arn)",
            """CREATE TABLE sts_sessions (
                access_key_id TEXT PRIMARY KEY,
                secret TEXT NOT NULL,
                token_sha256 TEXT NOT NULL,
                account_id TEXT NOT NULL,
                principal_arn TEXT NOT NULL,
                user_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                role_arn TEXT,
                session_policies TEXT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX sts_sessions_by_expiry ON sts_sessions(expires_at)",
            """CREATE TABLE event_sources (
                access_key_id TEXT PRIMARY KEY,
                secret TEXT NOT NULL,
                service TEXT NOT NULL,
                source_account TEXT NOT NULL,
                source_arn TEXT,
                status TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )""",
        ],
    ),
    (
        5,
        [
            # IAM names are unique within an account regardless of case ("Names are not
            # distinguished by case", CreateUser/CreateGroup/CreateRole/CreatePolicy).
            "CREATE UNIQUE INDEX iam_users_name_nocase ON iam_users(account_id, LOWER(name))",
            "CREATE UNIQUE INDEX iam_groups_name_nocase ON iam_groups(account_id, LOWER(name))",
            "CREATE UNIQUE INDEX iam_roles_name_nocase ON iam_roles(account_id, LOWER(name))",
            "CREATE UNIQUE INDEX managed_policies_name_nocase "
            "ON managed_policies(account_id, LOWER(name))",
        ],
    ),
    (
        6,
        [
            """CREATE TABLE kms_keys (
                key_id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL,
                region TEXT NOT NULL,
                arn TEXT NOT NULL UNIQUE,
                description TEXT NOT NULL,
                key_usage TEXT NOT NULL,
                key_spec TEXT NOT NULL,
                origin TEXT NOT NULL,
                manager TEXT NOT NULL,
                state TEXT NOT NULL,
                policy TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                deletion_date DOUBLE PRECISION,
                pending_window_days INTEGER,
                rotation_period_days INTEGER,
                next_rotation DOUBLE PRECISION,
                tags TEXT NOT NULL
            )""",
            "CREATE INDEX kms_keys_by_owner ON kms_keys(account_id, region, key_id)",
            """CREATE TABLE kms_key_versions (
                key_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                wrapped BLOB NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                on_demand INTEGER NOT NULL,
                PRIMARY KEY (key_id, version)
            )""",
            """CREATE TABLE kms_aliases (
                account_id TEXT NOT NULL,
                region TEXT NOT NULL,
                name TEXT NOT NULL,
                key_id TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (account_id, region, name)
            )""",
            "CREATE INDEX kms_aliases_by_key ON kms_aliases(key_id)",
            """CREATE TABLE meta (
                name TEXT PRIMARY KEY,
                value BLOB NOT NULL
            )""",
        ],
    ),
    (
        7,
        [
            "ALTER TABLE accounts ADD COLUMN kms_enabled INTEGER NOT NULL DEFAULT 1",
            """CREATE TABLE kms_audit (
                event_id TEXT PRIMARY KEY,
                event_time DOUBLE PRECISION NOT NULL,
                event_name TEXT NOT NULL,
                account_id TEXT NOT NULL,
                region TEXT NOT NULL,
                key_arn TEXT,
                principal_type TEXT NOT NULL,
                principal_arn TEXT NOT NULL,
                principal_account TEXT NOT NULL,
                source_ip TEXT,
                user_agent TEXT,
                request_parameters TEXT NOT NULL,
                response_key_id TEXT,
                error_code TEXT,
                error_message TEXT,
                via_service TEXT,
                request_id TEXT NOT NULL
            )""",
            "CREATE INDEX kms_audit_by_time ON kms_audit(event_time)",
            "CREATE INDEX kms_audit_by_key ON kms_audit(key_arn, event_time)",
            """CREATE TABLE kms_grants (
                grant_id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL,
                name TEXT,
                grantee_principal TEXT NOT NULL,
                retiring_principal TEXT,
                operations TEXT NOT NULL,
                constraints TEXT,
                issuing_account TEXT NOT NULL,
                token_sha256 TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX kms_grants_by_key ON kms_grants(key_id)",
            "CREATE INDEX kms_grants_by_retiring ON kms_grants(retiring_principal)",
        ],
    ),
    (
        8,
        ["ALTER TABLE messages ADD COLUMN publisher_identity TEXT"],
    ),
    (
        9,
        [
            """CREATE TABLE sqs_queues (
                arn TEXT PRIMARY KEY,
                account_id TEXT NOT NULL,
                region TEXT NOT NULL,
                name TEXT NOT NULL,
                attributes TEXT NOT NULL,
                tags TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX sqs_queues_by_owner ON sqs_queues(account_id, region, name)",
            """CREATE TABLE sqs_messages (
                message_id TEXT PRIMARY KEY,
                queue_arn TEXT NOT NULL,
                body BLOB NOT NULL,
                body_format TEXT NOT NULL,
                md5_body TEXT NOT NULL,
                message_attributes TEXT NOT NULL,
                md5_attributes TEXT,
                sender_id TEXT NOT NULL,
                sent_at DOUBLE PRECISION NOT NULL,
                visible_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                receive_count INTEGER NOT NULL,
                first_received_at DOUBLE PRECISION,
                receipt_handle TEXT UNIQUE,
                group_id TEXT,
                dedup_id TEXT,
                sequence_number TEXT
            )""",
            "CREATE INDEX sqs_messages_visible ON sqs_messages(queue_arn, visible_at)",
            """CREATE TABLE sqs_dedup (
                queue_arn TEXT NOT NULL,
                dedup_id TEXT NOT NULL,
                message_id TEXT NOT NULL,
                sequence_number TEXT,
                sent_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (queue_arn, dedup_id)
            )""",
        ],
    ),
    (
        10,
        ["ALTER TABLE sqs_messages ADD COLUMN dead_letter_source TEXT"],
    ),
    (
        11,
        [
            """CREATE TABLE deliveries (
                delivery_id TEXT PRIMARY KEY,
                message_id TEXT NOT NULL,
                topic_arn TEXT NOT NULL,
                subscription_arn TEXT NOT NULL,
                protocol TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                raw INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                next_attempt_at DOUBLE PRECISION NOT NULL,
                lease_until DOUBLE PRECISION NOT NULL,
                last_error TEXT,
                created_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX deliveries_due ON deliveries(next_attempt_at)",
            """CREATE TABLE signing_keys (
                region TEXT PRIMARY KEY,
                private_key TEXT NOT NULL,
                certificate TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )""",
        ],
    ),
    (
        12,
        [
            # What a delivery sends: a Notification of its message, or the
            # SubscriptionConfirmation / UnsubscribeConfirmation of its subscription.
            "ALTER TABLE deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'Notification'",
            "ALTER TABLE deliveries ADD COLUMN token TEXT",
            # An ended subscription that the SubscribeURL of its UnsubscribeConfirmation
            # can restore until expires_at.
            """CREATE TABLE resubscriptions (
                token TEXT PRIMARY KEY,
                topic_arn TEXT NOT NULL,
                subscription TEXT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )""",
        ],
    ),
    (
        13,
        [
            # FIFO topics: the message a deduplication id was first published as, for 5 min.
            """CREATE TABLE sns_dedup (
                topic_arn TEXT NOT NULL,
                dedup_id TEXT NOT NULL,
                message_id TEXT NOT NULL,
                sequence_number TEXT,
                published_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (topic_arn, dedup_id)
            )""",
            "CREATE INDEX sns_dedup_by_time ON sns_dedup(published_at)",
            # Messages go once no delivery of theirs remains.
            "CREATE INDEX deliveries_by_message ON deliveries(message_id)",
            "CREATE INDEX messages_by_time ON messages(published_at)",
        ],
    ),
    (
        14,
        [
            # The node holding a delivery's lease: a node that restarts takes back its own.
            "ALTER TABLE deliveries ADD COLUMN lease_owner TEXT",
        ],
    ),
    (
        15,
        [
            # FIFO topics: a delivery's message group at its subscription, and its place
            # in the group; only the first undelivered one of a group may be sent.
            "ALTER TABLE deliveries ADD COLUMN group_key TEXT",
            "ALTER TABLE deliveries ADD COLUMN sequence TEXT",
            "CREATE INDEX deliveries_by_group ON deliveries(group_key, sequence)",
            # The last sequence number given in each FIFO topic, so numbers follow the
            # order in which messages are committed, on every node.
            """CREATE TABLE sns_sequences (
                topic_arn TEXT PRIMARY KEY,
                last_sequence TEXT NOT NULL
            )""",
        ],
    ),
    (
        16,
        [
            # Written with every message and read by nothing that serves requests: a
            # quarter of a message insert's cost.
            "DROP INDEX messages_by_topic",
            # Only FIFO deliveries have a group; the others need no entry.
            "DROP INDEX deliveries_by_group",
            "CREATE INDEX deliveries_by_group ON deliveries(group_key, sequence) "
            "WHERE group_key IS NOT NULL",
        ],
    ),
    (
        17,
        [
            # When a queue was last purged or deleted: the 60-second cool-downs hold for
            # every node sharing the store.
            """CREATE TABLE sqs_cooldowns (
                queue_arn TEXT NOT NULL,
                kind TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (queue_arn, kind)
            )""",
        ],
    ),
    (
        18,
        [
            # Queue messages past their retention period are removed by the periodic
            # prune, found through this index rather than by reading whole queues.
            "CREATE INDEX sqs_messages_expiry ON sqs_messages(expires_at)",
        ],
    ),
    (
        19,
        [
            # What a sealed message's envelope refers to ("kms-envelope-v2"): the data
            # key's ciphertext, the key that made it and the publisher on whose behalf it
            # is decrypted, written once per data key and publisher instead of with every
            # message. A data key seals nothing of other topics, nor after sealing_until.
            """CREATE TABLE sealing_keys (
                sealing_id BLOB PRIMARY KEY,
                topic_arn TEXT NOT NULL,
                key_arn TEXT NOT NULL,
                data_key BLOB NOT NULL,
                publisher_identity TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                sealing_until DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX sealing_keys_by_end ON sealing_keys(sealing_until)",
        ],
    ),
    (
        20,
        [
            # A message's AWSTraceHeader, the one message system attribute a sender sets.
            "ALTER TABLE sqs_messages ADD COLUMN trace_header TEXT",
        ],
    ),
    (
        21,
        [
            # When an IAM user's access key last signed a request, for which service and
            # in which region (GetAccessKeyLastUsed); NULL until it is first used. Each
            # node writes it at most once a minute per key, off the request's path.
            "ALTER TABLE access_keys ADD COLUMN last_used_at DOUBLE PRECISION",
            "ALTER TABLE access_keys ADD COLUMN last_used_service TEXT",
            "ALTER TABLE access_keys ADD COLUMN last_used_region TEXT",
        ],
    ),
    (
        22,
        [
            # Message move tasks (dead-letter queue redrive), shared by the nodes: a task
            # runs on the node whose claim (lease) holds it until lease_until, and is taken
            # over by another once that passes. The unique index keeps one active task per
            # source queue whatever the nodes race to do.
            """CREATE TABLE sqs_move_tasks (
                task_id TEXT PRIMARY KEY,
                source_arn TEXT NOT NULL,
                destination_arn TEXT,
                max_per_second INTEGER,
                started_at DOUBLE PRECISION NOT NULL,
                starter TEXT NOT NULL,
                status TEXT NOT NULL,
                to_move INTEGER NOT NULL,
                moved INTEGER NOT NULL,
                failure_reason TEXT,
                lease TEXT,
                lease_until DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX sqs_move_tasks_by_source ON sqs_move_tasks(source_arn, started_at)",
            "CREATE UNIQUE INDEX sqs_move_tasks_active ON sqs_move_tasks(source_arn) "
            "WHERE status IN ('RUNNING', 'CANCELLING')",
        ],
    ),
]

LATEST = MIGRATIONS[-1][0]


class NewerSchema(Exception):
    """The database was migrated by a newer Herald, whose rows this one may misread."""


def require_known(current: int) -> None:
    """Raises NewerSchema unless this Herald knows schema version ``current``."""
    if current > LATEST:
        raise NewerSchema(
            f"its schema is version {current}, newer than this Herald's {LATEST}: run the "
            "Herald that migrated it (every node of a shared database at once)"
        )
