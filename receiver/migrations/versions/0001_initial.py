"""The first schema: kiosks, records, deletions, api tokens.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kiosks",
        sa.Column("kiosk_id", sa.String(64), primary_key=True),
        sa.Column("jwk_json", sa.String(2048), nullable=False),
        sa.Column("thumbprint", sa.String(64), nullable=False, unique=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("added_at", TS, nullable=False),
    )
    op.create_table(
        "records",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(36), nullable=False, unique=True),
        sa.Column("kiosk_id", sa.String(64), nullable=False, index=True),
        sa.Column("flow", sa.String(16), nullable=False),
        sa.Column("kiosk_ok", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("reason", sa.String(64)),
        sa.Column("record_time", TS, nullable=False, index=True),
        sa.Column("received_at", TS, nullable=False, index=True),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("has_my_number", sa.Boolean, nullable=False),
        sa.Column("test_trust", sa.Boolean, nullable=False),
        sa.Column("staff_id", sa.String(64)),
        sa.Column("verify_ms", sa.Float, nullable=False),
        sa.Column("sealed_jws", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "deletions",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(36), nullable=False, index=True),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("record_time", TS, nullable=False),
        sa.Column("deleted_at", TS, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in ("api_tokens", "deletions", "records", "kiosks"):
        op.drop_table(table)
