-- Analytics: one row per game with what its history says about demand, and one row per seat
-- given up before the start. Projected by the `analytics` projector (its own position in
-- projector_position); aggregated per guild, channel and host by projections/analytics.py.

CREATE TABLE analytics_games (
    game_id          uuid PRIMARY KEY,
    guild_id         text NOT NULL,
    channel_id       text NOT NULL,
    host_id          text NOT NULL,
    created_at       timestamptz NOT NULL,
    scheduled_at     timestamptz NOT NULL,     -- the latest start time
    status           text NOT NULL,
    joined           int NOT NULL,             -- seated players now
    filled_at        timestamptz,              -- first time every seat was taken
    joins            int NOT NULL,             -- players who took a seat on joining
    waitlisted       int NOT NULL,             -- players who queued because it was full
    promotions       int NOT NULL,             -- waiting players who got a seat
    seat_leaves      int NOT NULL,             -- seated players who left before the start
    waitlist_leaves  int NOT NULL,
    version          int NOT NULL,             -- aggregate version of the last event applied
    position         bigint NOT NULL
);
CREATE INDEX analytics_games_guild ON analytics_games (guild_id);
CREATE INDEX analytics_games_channel ON analytics_games (channel_id);
CREATE INDEX analytics_games_host ON analytics_games (host_id);

CREATE TABLE analytics_leaves (
    position              bigint PRIMARY KEY,  -- stream sequence of the player_left event
    game_id               uuid NOT NULL,
    user_id               text NOT NULL,
    left_at               timestamptz NOT NULL,
    minutes_before_start  double precision NOT NULL
);
CREATE INDEX analytics_leaves_game ON analytics_leaves (game_id);

CREATE TABLE analytics_attendance (
    game_id   uuid NOT NULL,
    user_id   text NOT NULL,
    guild_id  text NOT NULL,
    present   boolean NOT NULL,               -- false: a no-show
    position  bigint NOT NULL,                -- the attendance record it comes from
    PRIMARY KEY (game_id, user_id)
);
CREATE INDEX analytics_attendance_player ON analytics_attendance (guild_id, user_id);
