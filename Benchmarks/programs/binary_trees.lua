-- Binary trees (Computer Language Benchmarks Game): allocation of many short-lived small
-- objects, and recursion over them. A node is a two-element table {left, right}.
local function bottom_up_tree(depth)
  if depth > 0 then
    local d = depth - 1
    return { bottom_up_tree(d), bottom_up_tree(d) }
  end
  return { false, false }
end

local function item_check(tree)
  if not tree[1] then return 1 end
  return 1 + item_check(tree[1]) + item_check(tree[2])
end

local function main(n)
  local min_depth = 4
  local max_depth = n
  if min_depth + 2 > n then max_depth = min_depth + 2 end

  local stretch_depth = max_depth + 1
  print("stretch tree of depth " .. stretch_depth .. "\t check: " .. item_check(bottom_up_tree(stretch_depth)))

  local long_lived_tree = bottom_up_tree(max_depth)

  local depth = min_depth
  while depth <= max_depth do
    local iterations = 1 << (max_depth - depth + min_depth)
    local check = 0
    for _ = 1, iterations do
      check = check + item_check(bottom_up_tree(depth))
    end
    print(iterations .. "\t trees of depth " .. depth .. "\t check: " .. check)
    depth = depth + 2
  end
  print("long lived tree of depth " .. max_depth .. "\t check: " .. item_check(long_lived_tree))
end

main(15)
