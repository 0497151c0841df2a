-- wrk script: POST each line of the file named after `--` in turn, each wrk thread its own share,
-- so every request carries a distinct signed token (no duplicate events).
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
