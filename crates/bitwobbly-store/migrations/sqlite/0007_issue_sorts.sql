-- Issue listings page through a project's issues in one of four orders (newest activity,
-- newest issue, most events, most users), ties broken by id: one index per order, so that a
-- page reads its rows in order instead of sorting every issue of the project.
CREATE INDEX issues_by_last_seen ON issues(project_id, last_seen, id);
CREATE INDEX issues_by_first_seen ON issues(project_id, first_seen, id);
CREATE INDEX issues_by_event_count ON issues(project_id, event_count, id);
CREATE INDEX issues_by_user_count ON issues(project_id, user_count, id);
