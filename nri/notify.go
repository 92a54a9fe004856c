package nri

import (
	"fmt"
	"net"
	"os"
)

// Notify sends a systemd notification such as "READY=1" to $NOTIFY_SOCKET
// (Type=notify services). Without that variable it does nothing.
func Notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' { // an abstract socket
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("nri: notifying systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("nri: notifying systemd: %w", err)
	}
	return nil
}
