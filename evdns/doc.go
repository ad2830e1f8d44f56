// Package evdns will be eddy's asynchronous DNS stub resolver, running on
// the loop with c-ares-grade behaviour. The resolver itself (queries over
// UDP and TCP, retries, the cache, lookups by host name) is being built;
// what exists so far is its configuration layer, which is pure (bytes in,
// results out, no loop, no network) and usable on its own:
//
//   - ParseResolvConf and ReadResolvConf read resolv.conf(5) with glibc's
//     semantics into a Config (servers, search list, ndots, timeout,
//     attempts and the options the resolver will honour); ApplyEnv adds
//     the LOCALDOMAIN and RES_OPTIONS environment variables, ApplyHostname
//     the default search domain, and SystemConfig does all of it for this
//     process.
//   - ParseHosts and ReadHosts read hosts(5) into a Hosts table for
//     forward (Lookup) and reverse (Reverse) lookups.
//   - Candidates applies the search list and ndots to a name and returns
//     the fully qualified names to query, in the order the C library
//     tries them.
//
// Parsing is lenient, as in the C library: lines and options that are not
// understood are skipped, never reported, so that a resolver keeps working
// with the rest of a file.
package evdns
