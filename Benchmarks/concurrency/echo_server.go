// Echo server: accepts TCP connections on 127.0.0.1:PORT (os.Args[1]) and serves each in
// its own goroutine, which writes back whatever it reads until the client closes. Runs
// until killed.
package main

import (
	"net"
	"os"
)

func serve(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 65536)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF when the client closes, or a reset
		}
	}
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		panic(err)
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go serve(conn)
	}
}
