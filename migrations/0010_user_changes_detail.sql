-- The account history of the user administration desk (issue 15): a role change keeps
-- the role before and after, a user may change their own password, and the desk shows
-- each account's changes, newest first, and the date of the last one in the list.
--
-- The table stays append-only: new columns only, the old rows keep NULL in them.

ALTER TABLE auth.user_changes DROP CONSTRAINT user_changes_change_check;
ALTER TABLE auth.user_changes ADD CONSTRAINT user_changes_change_check
    CHECK (change IN ('created', 'disabled', 'enabled', 'password_reset', 'locked',
                      'role_changed', 'password_changed'));

ALTER TABLE auth.user_changes
    ADD COLUMN old_role text CHECK (old_role IN ('customer_service', 'legal', 'sales',
                                        'billing', 'auditor', 'admin', 'management')),
    ADD COLUMN new_role text CHECK (new_role IN ('customer_service', 'legal', 'sales',
                                        'billing', 'auditor', 'admin', 'management'));

-- A role change names both roles; no other change names any.
ALTER TABLE auth.user_changes ADD CONSTRAINT user_changes_roles_of_a_role_change
    CHECK (CASE WHEN change = 'role_changed' THEN old_role IS NOT NULL AND new_role IS NOT NULL
                ELSE old_role IS NULL AND new_role IS NULL END);

-- An account's history, newest first, and its last change.
CREATE INDEX user_changes_by_user ON auth.user_changes (user_id, change_id DESC);
