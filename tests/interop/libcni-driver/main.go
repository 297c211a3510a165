// libcni-driver runs ADD, CHECK or DEL of a network configuration list through Go's libcni (the Debian package
// golang-github-appc-cni-dev), with an explicit cache directory. The interop tests use it to prove that an
// attachment made by libcni can be removed by CniRuntime and the other way round, and that both write the same
// cache file. As with cnitool, CNI_PATH (default /usr/lib/cni) names the plugin directories and CAP_ARGS holds
// the capability arguments as a JSON object.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: libcni-driver add|check|del CONFLIST CONTAINERID NETNS IFNAME CACHEDIR")
		os.Exit(2)
	}
	verb, file, id, netns, ifname, cacheDir := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6]
	list, err := libcni.ConfListFromFile(file)
	if err != nil {
		fail(err)
	}
	paths := []string{"/usr/lib/cni"}
	if value := os.Getenv("CNI_PATH"); value != "" {
		paths = filepath.SplitList(value)
	}
	cni := libcni.NewCNIConfigWithCacheDir(paths, cacheDir, nil)
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifname, Args: [][2]string{{"IgnoreUnknown", "1"}}}
	if value := os.Getenv("CAP_ARGS"); value != "" {
		if err := json.Unmarshal([]byte(value), &rt.CapabilityArgs); err != nil {
			fail(fmt.Errorf("CAP_ARGS: %w", err))
		}
	}
	ctx := context.Background()
	switch verb {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := result.Print(); err != nil {
			fail(err)
		}
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	default:
		err = fmt.Errorf("unknown verb %q", verb)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
