-- Spectral norm (Computer Language Benchmarks Game): nested loops, calls, float math and
-- list indexing. Prints the norm times 1e9, truncated to an int.

local function a(i, j)
  local ij = i + j
  return 1.0 / (ij * (ij + 1) // 2 + i + 1)
end

-- y = A x   (vectors are 1-based; the matrix indices i, j are 0-based)
local function mul_av(n, x, y)
  for i = 0, n - 1 do
    local sum = 0.0
    for j = 0, n - 1 do
      sum = sum + a(i, j) * x[j + 1]
    end
    y[i + 1] = sum
  end
end

-- y = A^T x
local function mul_atv(n, x, y)
  for i = 0, n - 1 do
    local sum = 0.0
    for j = 0, n - 1 do
      sum = sum + a(j, i) * x[j + 1]
    end
    y[i + 1] = sum
  end
end

-- y = A^T A x
local function mul_atav(n, x, y, t)
  mul_av(n, x, t)
  mul_atv(n, t, y)
end

local function main(n)
  local u, v, t = {}, {}, {}
  for i = 1, n do
    u[i] = 1.0
    v[i] = 0.0
    t[i] = 0.0
  end
  for _ = 1, 10 do
    mul_atav(n, u, v, t)
    mul_atav(n, v, u, t)
  end
  local vbv, vv = 0.0, 0.0
  for i = 1, n do
    vbv = vbv + u[i] * v[i]
    vv = vv + v[i] * v[i]
  end
  print(math.floor(math.sqrt(vbv / vv) * 1e9))
end

main(800)
