"""Watcher outreach (the centre's Watcher Bot): for posts flagged as luring minors, draft a warning to the
account and guidance for young people, escalate repeat accounts and contacts to a report draft, and send
only what a named staff member approved (README "Watcher outreach")."""
