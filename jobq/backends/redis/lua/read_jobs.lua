-- read_jobs: the hashes of the given jobs (read only).
-- ARGV: prefix, job id, job id, ...
-- Returns, JSON-encoded (one string parses far faster than thousands): per id, the hash
--   as a flat [field, value, ...] list, or false when the job is missing or its key is
--   not a hash.
local out = {}
for i = 2, #ARGV do
  local flat = read_all(ARGV[i])
  if flat and #flat == 0 then
    flat = false
  end
  out[#out + 1] = flat
end
return cjson.encode(out)
