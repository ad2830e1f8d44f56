-- wrk script for the pipelined HTTP workload (cmd/compare writes it to the
-- results folder and runs "wrk ... -s pipeline.lua URL -- DEPTH"): every
-- write carries DEPTH requests (16 when no argument is given). wrk counts
-- the requests in what request() returns and every response as one
-- request, so Requests/sec is responses per second.

local depth = 16

function init(args)
   depth = tonumber(args[1]) or depth
   local batch = {}
   for i = 1, depth do
      batch[i] = wrk.format(nil, nil, nil, nil)
   end
   pipelined = table.concat(batch)
end

function request()
   return pipelined
end
