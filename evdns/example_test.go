package evdns_test

import (
	"fmt"

	"github.com/eddyloop/eddy/evdns"
)

func Example() {
	conf, err := evdns.ParseResolvConf([]byte(`# written by hand
nameserver 192.0.2.53
nameserver 2001:db8::53
search corp.example.com example.com
options ndots:2 timeout:3 edns0
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("servers:", conf.Servers)
	fmt.Println("ndots:", conf.Ndots, "timeout:", conf.Timeout, "attempts:", conf.Attempts)
	for _, name := range []string{"www", "mail.eu", "a.b.c", "www.example.org."} {
		fmt.Println(name, "->", evdns.Candidates(name, conf))
	}
	// Output:
	// servers: [192.0.2.53:53 [2001:db8::53]:53]
	// ndots: 2 timeout: 3s attempts: 2
	// www -> [www.corp.example.com. www.example.com. www.]
	// mail.eu -> [mail.eu.corp.example.com. mail.eu.example.com. mail.eu.]
	// a.b.c -> [a.b.c. a.b.c.corp.example.com. a.b.c.example.com.]
	// www.example.org. -> [www.example.org.]
}

func ExampleHosts_Lookup() {
	hosts, err := evdns.ParseHosts([]byte(`127.0.0.1 localhost
::1       localhost ip6-localhost
192.0.2.10 Build.Example.com build # the CI box
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(hosts.Lookup("localhost"))
	fmt.Println(hosts.Lookup("build.example.com."))
	fmt.Println(hosts.Reverse(hosts.Lookup("build")[0]))
	// Output:
	// [127.0.0.1 ::1]
	// [192.0.2.10]
	// [Build.Example.com build]
}
