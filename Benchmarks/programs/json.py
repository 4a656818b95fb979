# A char-by-char JSON parser (recursive descent, one `s[i]` per character) over a generated
# text of about 140 KB with non-ASCII strings ("café", "Zürich", "東京", "😀" …).
# Prints the text's length in characters, then counts and sums over the parsed values.
class Parser:
    def __init__(self, text):
        self.s = text
        self.pos = 0
        self.n = len(text)

    def skip(self):
        s = self.s
        i = self.pos
        while i < self.n:
            c = s[i]
            if c != " " and c != "\n" and c != "\t" and c != "\r":
                break
            i = i + 1
        self.pos = i

    def value(self):
        self.skip()
        c = self.s[self.pos]
        if c == "{":
            return self.object()
        if c == "[":
            return self.array()
        if c == "\"":
            return self.string()
        if c == "t":
            self.pos = self.pos + 4
            return True
        if c == "f":
            self.pos = self.pos + 5
            return False
        if c == "n":
            self.pos = self.pos + 4
            return None
        return self.number()

    def object(self):
        m = {}
        self.pos = self.pos + 1
        self.skip()
        if self.s[self.pos] == "}":
            self.pos = self.pos + 1
            return m
        while True:
            self.skip()
            k = self.string()
            self.skip()
            self.pos = self.pos + 1
            m[k] = self.value()
            self.skip()
            c = self.s[self.pos]
            self.pos = self.pos + 1
            if c == "}":
                return m

    def array(self):
        l = []
        self.pos = self.pos + 1
        self.skip()
        if self.s[self.pos] == "]":
            self.pos = self.pos + 1
            return l
        while True:
            l.append(self.value())
            self.skip()
            c = self.s[self.pos]
            self.pos = self.pos + 1
            if c == "]":
                return l

    def string(self):
        s = self.s
        start = self.pos + 1
        i = start
        while s[i] != "\"":
            i = i + 1
        self.pos = i + 1
        return s[start:i]

    def number(self):
        s = self.s
        i = self.pos
        neg = False
        if s[i] == "-":
            neg = True
            i = i + 1
        v = 0
        while i < self.n:
            c = s[i]
            if c < "0" or c > "9":
                break
            v = v * 10 + (ord(c) - 48)
            i = i + 1
        self.pos = i
        if neg:
            return -v
        return v


def generate(records):
    names = ["café", "Zürich", "naïve", "東京", "smörgåsbord", "😀 party", "plain", "ascii text"]
    parts = ["["]
    for i in range(records):
        if i > 0:
            parts.append(",\n")
        name = names[i % 8]
        parts.append(f"{{\"id\": {i}, \"name\": \"{name} {i}\", \"score\": {i * 37 % 1000 - 500}, ")
        parts.append(f"\"tags\": [\"{names[(i + 3) % 8]}\", \"x\", \"{names[(i * 5) % 8]}\"], ")
        ok = "true" if i % 3 == 0 else "false"
        parts.append(f"\"ok\": {ok}, \"extra\": {{\"a\": [1, 2, {i % 10}], \"b\": null}}}}")
    parts.append("]\n")
    return "".join(parts)


def main(records, rounds):
    text = generate(records)
    print(len(text))
    count = 0
    sum = 0
    tagged = 0
    last = ""
    for r in range(rounds):
        data = Parser(text).value()
        for rec in data:
            count = count + 1
            sum = sum + rec["score"] + rec["extra"]["a"][2]
            if rec["tags"][0] == "café":
                tagged = tagged + 1
            if rec["ok"]:
                sum = sum + 1
            last = rec["name"]
    print(count, sum, tagged, last)


main(1000, 40)
