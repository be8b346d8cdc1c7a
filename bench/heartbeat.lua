-- wrk script: POST /api/heartbeat for N distinct nodes (default 10000), round robin, with the
-- same ~600-byte bodies as the load generator (0-2 VMs, three cached images, three labels).
--   wrk -t1 -c32 -d10s --latency -s bench/heartbeat.lua http://127.0.0.1:PORT/api/heartbeat -- 10000

local images = {
  "macos-sonoma-14.6-xcode-16.0-runner", "macos-sonoma-14.6-xcode-15.4-runner",
  "macos-sequoia-15.1-xcode-16.1-runner", "macos-sequoia-15.1-xcode-16.2-beta",
  "macos-ventura-13.7-xcode-15.2-runner", "macos-monterey-12.7-xcode-14.2-legacy",
  "macos-sequoia-15.1-base", "macos-sonoma-14.6-base",
  "macos-ventura-13.7-base", "macos-sequoia-15.2-xcode-16.2-runner",
}

local function image(i) return images[i % #images + 1] end

local function body(node)
  local vm_count = node % 3
  local vms = {}
  for vm = 0, vm_count - 1 do
    vms[#vms + 1] = string.format(
      '{"vmId":"vm-%06d-%d","imageName":"%s","runtimeSeconds":%d,"vmHostname":"runner-%06d-%d","vmIpAddress":"192.0.2.%d"}',
      node, vm, image(node + vm), 600 + node % 3000, node, vm, 1 + (node * 2 + vm) % 250)
  end
  return string.format(
    '{"nodeId":"mac-mini-%06d","vmCount":%d,"vms":[%s],"cpuUsagePercent":%.2f,"memoryUsageGB":%d.5,' ..
    '"totalMemoryGB":32.0,"diskUsageGB":%d.0,"totalDiskGB":1000.0,"status":"%s",' ..
    '"cachedImages":["%s","%s","%s"],"labels":{"arch":"arm64","model":"Macmini9,1","rack":"r%d"}}',
    node, vm_count, table.concat(vms, ","), 5 + (node * 37) % 90, 4 + vm_count * 6, 120 + node % 200,
    vm_count == 0 and "idle" or "healthy", image(node), image(node + 3), image(node + 7), node % 40)
end

local requests = {}
local next_request = 1

function init(args)
  local nodes = tonumber(args[1]) or 10000
  local headers = { ["Content-Type"] = "application/json", ["User-Agent"] = "macvmorx-agent/0.1" }
  for node = 0, nodes - 1 do
    requests[node + 1] = wrk.format("POST", "/api/heartbeat", headers, body(node))
  end
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end
