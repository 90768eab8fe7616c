-- 0005: An alert's text in English beside the Vietnamese `message`: both rendered by the store from the one
-- wording catalogue (wording/alerts.py) when the alert fires or changes, so every surface (the wall page
-- too) shows either language without words of its own. NULL for alerts kept before this version.
ALTER TABLE alerts ADD COLUMN message_en TEXT;
