# Method calls: calling methods on instances of a class, reading and writing fields.
class Counter:
    def __init__(self, step):
        self.count = 0
        self.step = step

    def tick(self):
        self.count = self.count + self.step
        if self.count >= 1000:
            self.count = self.count - 1000

    def value(self):
        return self.count


def main(n):
    counters = [Counter(1), Counter(3), Counter(7), Counter(11)]
    sum = 0
    for i in range(n):
        c = counters[i % 4]
        c.tick()
        sum = sum + c.value()
    print(sum)


main(10_000_000)
