-- The Discord projection's own bookkeeping (announcements posted, DMs owed), committed with its
-- position in projector_position (name 'discord'). What it did is also recorded in the log
-- (game.announcement_recorded.v1, game.direct_message_recorded.v1): these rows are what makes a
-- restart neither skip nor repeat a send in between.

CREATE TABLE IF NOT EXISTS discord_announcements (
    game_id             uuid PRIMARY KEY,
    channel_id          text NOT NULL,
    message_id          text,                   -- null while the post is in flight
    nonce               text NOT NULL,          -- Discord's nonce: a repeat returns the first post
    attempted_at        timestamptz NOT NULL,
    rendered_position   bigint NOT NULL DEFAULT 0, -- log position of the newest content shown
    recorded            boolean NOT NULL DEFAULT false  -- RecordAnnouncement was accepted
);

CREATE TABLE IF NOT EXISTS discord_dms (
    source_position bigint NOT NULL,            -- the event that made the DM owed
    user_id         text NOT NULL,
    game_id         uuid NOT NULL,
    kind            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'refused', 'failed', 'skipped')),
    nonce           text NOT NULL,
    message_id      text,
    detail          text NOT NULL DEFAULT '',
    attempted_at    timestamptz NOT NULL,
    done_at         timestamptz,
    PRIMARY KEY (source_position, user_id)
);
CREATE INDEX IF NOT EXISTS discord_dms_game ON discord_dms (game_id);
