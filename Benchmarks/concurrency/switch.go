// switch: the cost of a goroutine switch. A sender sends 500,000 ints on an unbuffered
// channel and main receives them.
package main

import "fmt"

func sender(ch chan<- int, n int) {
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
}

func main() {
	const n = 500000
	ch := make(chan int)
	go sender(ch, n)
	count := 0
	for range ch {
		count++
	}
	fmt.Println(count)
}
