# Text processing with string methods: split a generated text into lines, trim each, split
# it into fields and a field into parts, find, contains, starts_with, replace, then join the
# lines back. The text mixes ASCII and non-ASCII ("café", "Zürich", "東京").
# Prints the text's length in characters, then counts over all rounds.
def generate(lines):
    cities = ["Zürich", "Paris", "東京", "Lima", "São Paulo", "Oslo"]
    parts = []
    for i in range(lines):
        parts.append(f"  id={i}, name=user {i % 97}, city={cities[i % 6]}, tags=a;b{i % 5};café;c, note=the quick brown fox jumps {i % 7}  ")
    return "\n".join(parts)


def main(lines, rounds):
    text = generate(lines)
    print(len(text))
    fields = 0
    tags = 0
    hits = 0
    found = 0
    total = 0
    for r in range(rounds):
        out = []
        for line in text.split("\n"):
            t = line.strip(" \t\r\n")
            for f in t.split(", "):
                kv = f.split("=")
                fields = fields + 1
                if kv[0] == "tags":
                    tags = tags + len(kv[1].split(";"))
            if "Zürich" in t:
                hits = hits + 1
            found = found + t.find("name=")
            changed = t.replace("fox", "dog").replace(";", "|")
            if changed.startswith("id=") and changed.endswith("3"):
                hits = hits + 1
            out.append(changed)
        total = total + len("\n".join(out))
    print(fields, tags, hits, found, total)


main(20000, 4)
