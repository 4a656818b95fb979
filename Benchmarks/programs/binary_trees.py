# Binary trees (Computer Language Benchmarks Game): allocation of many short-lived small
# objects, and recursion over them. A node is a two-element list [left, right].
def bottom_up_tree(depth):
    if depth > 0:
        d = depth - 1
        return [bottom_up_tree(d), bottom_up_tree(d)]
    return [None, None]


def item_check(tree):
    if tree[0] is None:
        return 1
    return 1 + item_check(tree[0]) + item_check(tree[1])


def main(n):
    min_depth = 4
    max_depth = n
    if min_depth + 2 > n:
        max_depth = min_depth + 2

    stretch_depth = max_depth + 1
    print(f"stretch tree of depth {stretch_depth}\t check: {item_check(bottom_up_tree(stretch_depth))}")

    long_lived_tree = bottom_up_tree(max_depth)

    depth = min_depth
    while depth <= max_depth:
        iterations = 1 << (max_depth - depth + min_depth)
        check = 0
        for i in range(iterations):
            check = check + item_check(bottom_up_tree(depth))
        print(f"{iterations}\t trees of depth {depth}\t check: {check}")
        depth = depth + 2
    print(f"long lived tree of depth {max_depth}\t check: {item_check(long_lived_tree)}")


main(15)
