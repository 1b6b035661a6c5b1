-- GET Patient/{id} for ids chosen at random from ids.lua (written by bench/run.sh).
local ids = dofile(os.getenv("BENCH_IDS"))
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/fhir/Patient/" .. ids[math.random(#ids)])
end
