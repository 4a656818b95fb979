// pingpong_buffered: a producer sends 2,000,000 ints into a channel with a 64-value
// buffer, a consumer sums them.
package main

import "fmt"

func producer(ch chan<- int, n int) {
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
}

func consumer(ch <-chan int, result chan<- int) {
	sum := 0
	for v := range ch {
		sum = (sum * 31 + v) % 1000003
	}
	result <- sum
}

func main() {
	const n = 2000000
	ch := make(chan int, 64)
	result := make(chan int)
	go consumer(ch, result)
	go producer(ch, n)
	fmt.Println(<-result)
}
