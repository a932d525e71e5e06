-- Read models built from the event log. Every table is a projection: drop the schema and
-- `muster replay` rebuilds it. Ids of Discord objects are decimal strings, as in Discord's JSON.

CREATE TABLE projector_position (
    name        text PRIMARY KEY,
    position    bigint NOT NULL,          -- last stream sequence applied
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE parked_events (
    projector   text NOT NULL,
    position    bigint NOT NULL,          -- stream sequence of the event
    subject     text NOT NULL,
    type        text NOT NULL,
    error       text NOT NULL,
    attempts    int NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projector, position)
);

CREATE TABLE guild_settings (
    guild_id        text PRIMARY KEY,
    settings        jsonb NOT NULL,       -- domain Settings (null = inherit)
    updated_at      timestamptz NOT NULL,
    position        bigint NOT NULL
);

CREATE TABLE channel_settings (
    channel_id      text PRIMARY KEY,
    guild_id        text NOT NULL,
    settings        jsonb NOT NULL,
    updated_at      timestamptz NOT NULL,
    position        bigint NOT NULL
);

CREATE TABLE games (
    game_id                 uuid PRIMARY KEY,
    guild_id                text NOT NULL,
    channel_id              text NOT NULL,
    host_id                 text NOT NULL,
    title                   text NOT NULL,
    description             text NOT NULL,
    category                text,
    duration_minutes        int,
    details                 jsonb NOT NULL,   -- the host's own settings (null = inherit)
    scheduled_at            timestamptz NOT NULL,
    status                  text NOT NULL,
    joined_count            int NOT NULL,
    waitlist_count          int NOT NULL,
    announcement_channel_id text,
    announcement_message_id text,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    version                 int NOT NULL,     -- aggregate version of the last event applied
    position                bigint NOT NULL,  -- stream sequence of the last event applied
    state                   bytea NOT NULL    -- the folded domain state (msgpack), for the projector
);
CREATE INDEX games_channel ON games (channel_id, scheduled_at);
CREATE INDEX games_guild ON games (guild_id, scheduled_at);
CREATE INDEX games_host ON games (host_id, scheduled_at);
CREATE INDEX games_upcoming ON games (scheduled_at) WHERE status = 'scheduled';

CREATE TABLE participants (
    game_id         uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('joined', 'waitlisted', 'placeholder')),
    ordinal         int NOT NULL,             -- 1-based order within its kind
    user_id         text,                     -- joined / waitlisted
    placeholder_id  int,                      -- placeholder
    label           text,                     -- placeholder
    PRIMARY KEY (game_id, kind, ordinal)
);
CREATE INDEX participants_user ON participants (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE reminders (
    game_id         uuid NOT NULL,
    offset_minutes  int NOT NULL,
    user_id         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('sent', 'skipped', 'failed')),
    PRIMARY KEY (game_id, offset_minutes, user_id)
);

CREATE TABLE timeline (
    position        bigint PRIMARY KEY,       -- stream sequence
    aggregate_id    text NOT NULL,            -- game.<uuid>, guild.<id>, channel.<id>
    version         int NOT NULL,
    type            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    actor_id        text NOT NULL,
    command_id      text NOT NULL,
    msg_id          text UNIQUE,              -- Nats-Msg-Id: a re-stored duplicate is skipped
    body            jsonb NOT NULL
);
CREATE INDEX timeline_aggregate ON timeline (aggregate_id, position);
