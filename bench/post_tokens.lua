-- wrk script: POST the lines of the file named after `--` in turn, starting again at the top when
-- they run out. The bench runs one wrk thread and writes more tokens than a storing receiver
-- answers in one run, so every request it stores carries a distinct signed token (it refuses a
-- run of a storing receiver that went round).
local tokens = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
end

function request()
  index = index + 1
  if index > #tokens then index = 1 end
  return wrk.format("POST", nil, {["Content-Type"] = "text/plain"}, tokens[index])
end

-- The latency distribution, for the bench to merge a receiver's runs into one: each percentile
-- from 0.1 to 100 in steps of 0.1, in microseconds.
function done(summary, latency, requests)
  for tenth = 1, 1000 do
    io.write(string.format("percentile %.1f %d\n", tenth / 10, latency:percentile(tenth / 10)))
  end
end
