# String building: interpolation, concatenation and join of many small strings.
# Prints the total length of all joined strings and two slices of the last one.
def main(rounds):
    total = 0
    last = ""
    for r in range(rounds):
        parts = []
        for i in range(1000):
            line = f"item {i}: {i * r % 97}"
            line = line + " [" + str(i % 13) + "]"
            parts.append(line)
        s = ", ".join(parts)
        total = total + len(s)
        last = s
    print(total)
    print(last[0:40])
    print(last[len(last) - 40:])


main(2000)
