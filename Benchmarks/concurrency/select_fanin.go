// select_fanin: 8 producers each send 50,000 ints on their own unbuffered channel; one
// consumer takes them with a select over the 8 channels until all are closed. Prints the
// count and a checksum that weighs each value by its channel's number. A closed channel is
// set to nil, which a select never chooses.
package main

import "fmt"

func producer(ch chan<- int, base, n int) {
	for i := 0; i < n; i++ {
		ch <- base + i
	}
	close(ch)
}

func main() {
	const n = 50000
	var chans [8]chan int
	for p := range chans {
		chans[p] = make(chan int)
		go producer(chans[p], p*n, n)
	}
	c0, c1, c2, c3, c4, c5, c6, c7 := chans[0], chans[1], chans[2], chans[3], chans[4], chans[5], chans[6], chans[7]
	open, count, sum := 8, 0, 0
	take := func(v int, ok bool, weight int, ch *chan int) {
		if !ok {
			*ch = nil
			open--
			return
		}
		count++
		sum = (sum + weight*v) % 1000003
	}
	for open > 0 {
		select {
		case v, ok := <-c0:
			take(v, ok, 1, &c0)
		case v, ok := <-c1:
			take(v, ok, 2, &c1)
		case v, ok := <-c2:
			take(v, ok, 3, &c2)
		case v, ok := <-c3:
			take(v, ok, 4, &c3)
		case v, ok := <-c4:
			take(v, ok, 5, &c4)
		case v, ok := <-c5:
			take(v, ok, 6, &c5)
		case v, ok := <-c6:
			take(v, ok, 7, &c6)
		case v, ok := <-c7:
			take(v, ok, 8, &c7)
		}
	}
	fmt.Println(count, sum)
}
