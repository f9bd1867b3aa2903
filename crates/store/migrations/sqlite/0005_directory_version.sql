-- The membership directory's version, per organization. Every insert, update or delete
-- of a user or a team bumps it in the same transaction (these triggers), so an instance
-- that caches an organization's directory in memory knows it is stale as soon as the
-- session check of a request returns a different number. See
-- docs/decisions/0007-directory-cache.md.
ALTER TABLE organizations ADD COLUMN directory_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER users_directory_insert AFTER INSERT ON users
BEGIN
    UPDATE organizations SET directory_version = directory_version + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER users_directory_update AFTER UPDATE ON users
BEGIN
    UPDATE organizations SET directory_version = directory_version + 1
    WHERE id = NEW.org_id OR id = OLD.org_id;
END;
CREATE TRIGGER users_directory_delete AFTER DELETE ON users
BEGIN
    UPDATE organizations SET directory_version = directory_version + 1 WHERE id = OLD.org_id;
END;

CREATE TRIGGER teams_directory_insert AFTER INSERT ON teams
BEGIN
    UPDATE organizations SET directory_version = directory_version + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER teams_directory_update AFTER UPDATE ON teams
BEGIN
    UPDATE organizations SET directory_version = directory_version + 1
    WHERE id = NEW.org_id OR id = OLD.org_id;
END;
CREATE TRIGGER teams_directory_delete AFTER DELETE ON teams
BEGIN
    UPDATE organizations SET directory_version = directory_version + 1 WHERE id = OLD.org_id;
END;
