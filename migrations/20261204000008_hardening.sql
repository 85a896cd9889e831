-- Security hardening. Guessable secrets are claimed before they are checked: the failure counters below are
-- raised by one conditional UPDATE before the hash or code check runs, so no burst gets more than five guesses in
-- a pause. Consecutive pauses escalate: after the third, only a mailed link (reset or sign-in link) opens it.
ALTER TABLE users ADD COLUMN login_pauses BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_pauses BIGINT NOT NULL DEFAULT 0;
-- Fresh backup codes wait to be shown only this long (and only inside the sudo window).
ALTER TABLE user_totp ADD COLUMN codes_to_show_until BIGINT;
