// libcni-convert converts a CNI result to another spec version with libcni's own code (types/create and
// Result.GetAsVersion, as libcni does for a cached result): it prints the converted result as libcni prints
// results, or the error on stderr with exit code 1. generate-conversions.sh uses it to write the conversion
// goldens under testdata/results/libcni.
package main

import (
	"fmt"
	"os"

	// The result types register their converters; libcni imports them, create does not in every release.
	_ "github.com/containernetworking/cni/pkg/types/020"
	_ "github.com/containernetworking/cni/pkg/types/040"
	_ "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/types/create"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: libcni-convert RESULT.json VERSION")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	result, err := create.CreateFromBytes(data)
	if err != nil {
		fail(err)
	}
	converted, err := result.GetAsVersion(os.Args[2])
	if err != nil {
		fail(err)
	}
	if err := converted.Print(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
