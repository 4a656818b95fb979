// spawn/join: start 100,000 goroutines that each compute a small int, then wait for them
// all. Each goroutine writes its result to its own slot; a WaitGroup is the join.
package main

import (
	"fmt"
	"sync"
)

func work(i int) int {
	return i * i % 1009
}

func main() {
	const n = 100000
	results := make([]int, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			results[i] = work(i)
		}(i)
	}
	wg.Wait()
	sum := 0
	for _, v := range results {
		sum += v
	}
	fmt.Println(sum)
}
