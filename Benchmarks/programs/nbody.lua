-- N-body (Computer Language Benchmarks Game): float arithmetic and field access on
-- objects. Prints the system's energy before and after, times 1e9, truncated to ints.
local sqrt = math.sqrt

local PI = 3.141592653589793
local SOLAR_MASS = 4.0 * PI * PI
local DAYS_PER_YEAR = 365.24

local function Body(x, y, z, vx, vy, vz, mass)
  return {
    x = x, y = y, z = z,
    vx = vx * DAYS_PER_YEAR, vy = vy * DAYS_PER_YEAR, vz = vz * DAYS_PER_YEAR,
    mass = mass * SOLAR_MASS,
  }
end

local function make_bodies()
  return {
    -- Sun
    Body(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    -- Jupiter
    Body(4.84143144246472090, -1.16032004402742839, -1.03622044471123109e-1,
         1.66007664274403694e-3, 7.69901118419740425e-3, -6.90460016972063023e-5,
         9.54791938424326609e-4),
    -- Saturn
    Body(8.34336671824457987, 4.12479856412430479, -4.03523417114321381e-1,
         -2.76742510726862411e-3, 4.99852801234917238e-3, 2.30417297573763929e-5,
         2.85885980666130812e-4),
    -- Uranus
    Body(1.28943695621391310e1, -1.51111514016986312e1, -2.23307578892655734e-1,
         2.96460137564761618e-3, 2.37847173959480950e-3, -2.96589568540237556e-5,
         4.36624404335156298e-5),
    -- Neptune
    Body(1.53796971148509165e1, -2.59193146099879641e1, 1.79258772950371181e-1,
         2.68067772490389322e-3, 1.62824170038242295e-3, -9.51592254519715870e-5,
         5.15138902046611451e-5),
  }
end

local function offset_momentum(bodies)
  local px, py, pz = 0.0, 0.0, 0.0
  for _, b in ipairs(bodies) do
    px = px + b.vx * b.mass
    py = py + b.vy * b.mass
    pz = pz + b.vz * b.mass
  end
  local sun = bodies[1]
  sun.vx = -px / SOLAR_MASS
  sun.vy = -py / SOLAR_MASS
  sun.vz = -pz / SOLAR_MASS
end

local function energy(bodies)
  local n = #bodies
  local e = 0.0
  for i = 1, n do
    local b = bodies[i]
    e = e + 0.5 * b.mass * (b.vx * b.vx + b.vy * b.vy + b.vz * b.vz)
    for j = i + 1, n do
      local b2 = bodies[j]
      local dx = b.x - b2.x
      local dy = b.y - b2.y
      local dz = b.z - b2.z
      e = e - (b.mass * b2.mass) / sqrt(dx * dx + dy * dy + dz * dz)
    end
  end
  return e
end

local function advance(bodies, dt)
  local n = #bodies
  for i = 1, n do
    local b = bodies[i]
    for j = i + 1, n do
      local b2 = bodies[j]
      local dx = b.x - b2.x
      local dy = b.y - b2.y
      local dz = b.z - b2.z
      local d2 = dx * dx + dy * dy + dz * dz
      local mag = dt / (d2 * sqrt(d2))
      local bm = b.mass * mag
      local b2m = b2.mass * mag
      b.vx = b.vx - dx * b2m
      b.vy = b.vy - dy * b2m
      b.vz = b.vz - dz * b2m
      b2.vx = b2.vx + dx * bm
      b2.vy = b2.vy + dy * bm
      b2.vz = b2.vz + dz * bm
    end
  end
  for _, b in ipairs(bodies) do
    b.x = b.x + dt * b.vx
    b.y = b.y + dt * b.vy
    b.z = b.z + dt * b.vz
  end
end

-- Truncate toward zero, like Capsule's and Python's int().
local function trunc(x)
  if x < 0 then return math.ceil(x) else return math.floor(x) end
end

local function main(steps)
  local bodies = make_bodies()
  offset_momentum(bodies)
  print(trunc(energy(bodies) * 1e9))
  for _ = 1, steps do
    advance(bodies, 0.01)
  end
  print(trunc(energy(bodies) * 1e9))
end

main(500000)
