-- 0004: how a payload came on the wire. The body and its sha256 are always the bytes as decoded
-- (httpx undoes gzip, br, deflate); wire_encoding names the Content-Encoding that was undone, so
-- whoever checks a digest against a capture knows which bytes it covers. NULL: sent as is.
ALTER TABLE raw_payloads ADD COLUMN wire_encoding TEXT;
