// pingpong: two goroutines bounce an int over a pair of unbuffered channels, 400,000
// round trips.
package main

import "fmt"

func pinger(ping chan<- int, pong <-chan int, n int, result chan<- int) {
	v := 0
	for i := 0; i < n; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	result <- v
}

func ponger(ping <-chan int, pong chan<- int, done chan<- struct{}) {
	for v := range ping {
		pong <- v + 1
	}
	close(done)
}

func main() {
	const n = 400000
	ping := make(chan int)
	pong := make(chan int)
	result := make(chan int)
	done := make(chan struct{})
	go ponger(ping, pong, done)
	go pinger(ping, pong, n, result)
	fmt.Println(<-result)
	<-done
}
