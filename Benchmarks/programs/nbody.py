# N-body (Computer Language Benchmarks Game): float arithmetic and field access on
# objects. Prints the system's energy before and after, times 1e9, truncated to ints.
import math

PI = 3.141592653589793
SOLAR_MASS = 4.0 * PI * PI
DAYS_PER_YEAR = 365.24


class Body:
    def __init__(self, x, y, z, vx, vy, vz, mass):
        self.x = x
        self.y = y
        self.z = z
        self.vx = vx * DAYS_PER_YEAR
        self.vy = vy * DAYS_PER_YEAR
        self.vz = vz * DAYS_PER_YEAR
        self.mass = mass * SOLAR_MASS


def make_bodies():
    return [
        # Sun
        Body(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        # Jupiter
        Body(4.84143144246472090, -1.16032004402742839, -1.03622044471123109e-1,
             1.66007664274403694e-3, 7.69901118419740425e-3, -6.90460016972063023e-5,
             9.54791938424326609e-4),
        # Saturn
        Body(8.34336671824457987, 4.12479856412430479, -4.03523417114321381e-1,
             -2.76742510726862411e-3, 4.99852801234917238e-3, 2.30417297573763929e-5,
             2.85885980666130812e-4),
        # Uranus
        Body(1.28943695621391310e1, -1.51111514016986312e1, -2.23307578892655734e-1,
             2.96460137564761618e-3, 2.37847173959480950e-3, -2.96589568540237556e-5,
             4.36624404335156298e-5),
        # Neptune
        Body(1.53796971148509165e1, -2.59193146099879641e1, 1.79258772950371181e-1,
             2.68067772490389322e-3, 1.62824170038242295e-3, -9.51592254519715870e-5,
             5.15138902046611451e-5),
    ]


def offset_momentum(bodies):
    px = 0.0
    py = 0.0
    pz = 0.0
    for b in bodies:
        px = px + b.vx * b.mass
        py = py + b.vy * b.mass
        pz = pz + b.vz * b.mass
    sun = bodies[0]
    sun.vx = -px / SOLAR_MASS
    sun.vy = -py / SOLAR_MASS
    sun.vz = -pz / SOLAR_MASS


def energy(bodies):
    n = len(bodies)
    e = 0.0
    for i in range(n):
        b = bodies[i]
        e = e + 0.5 * b.mass * (b.vx * b.vx + b.vy * b.vy + b.vz * b.vz)
        for j in range(i + 1, n):
            b2 = bodies[j]
            dx = b.x - b2.x
            dy = b.y - b2.y
            dz = b.z - b2.z
            e = e - (b.mass * b2.mass) / math.sqrt(dx * dx + dy * dy + dz * dz)
    return e


def advance(bodies, dt):
    n = len(bodies)
    for i in range(n):
        b = bodies[i]
        for j in range(i + 1, n):
            b2 = bodies[j]
            dx = b.x - b2.x
            dy = b.y - b2.y
            dz = b.z - b2.z
            d2 = dx * dx + dy * dy + dz * dz
            mag = dt / (d2 * math.sqrt(d2))
            bm = b.mass * mag
            b2m = b2.mass * mag
            b.vx = b.vx - dx * b2m
            b.vy = b.vy - dy * b2m
            b.vz = b.vz - dz * b2m
            b2.vx = b2.vx + dx * bm
            b2.vy = b2.vy + dy * bm
            b2.vz = b2.vz + dz * bm
    for b in bodies:
        b.x = b.x + dt * b.vx
        b.y = b.y + dt * b.vy
        b.z = b.z + dt * b.vz


def main(steps):
    bodies = make_bodies()
    offset_momentum(bodies)
    print(int(energy(bodies) * 1e9))
    for _ in range(steps):
        advance(bodies, 0.01)
    print(int(energy(bodies) * 1e9))


main(500_000)
