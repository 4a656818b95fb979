# Hash map: insert and look up int keys (scattered, with overwrites and misses), then
# string keys.
def main(n, string_keys, rounds):
    # Int keys: i * 7919 % 1000003 revisits keys, so some inserts overwrite.
    m = {}
    distinct = 0
    for i in range(n):
        k = i * 7919 % 1000003
        if k not in m:
            distinct = distinct + 1
        m[k] = i
    # Lookups: roughly half of these keys are missing.
    sum = 0
    hits = 0
    for i in range(n):
        v = m.get(i * 31 % 2000003)
        if v is not None:
            hits = hits + 1
            sum = (sum + v) % 1000000007
    # String keys.
    keys = []
    for i in range(string_keys):
        keys.append(f"key{i}")
    sm = {}
    for i in range(string_keys):
        sm[keys[i]] = i
    for r in range(rounds):
        for i in range(string_keys):
            sum = (sum + sm[keys[i * 17 % string_keys]] * (r + 1)) % 1000000007
    print(f"{distinct} {hits} {sum}")


main(2_000_000, 100_000, 60)
