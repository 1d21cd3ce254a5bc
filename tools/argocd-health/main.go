// Command argocd-health runs an Argo CD resource health check the way Argo CD does: the
// object is handed to the script as the global table `obj`, in a gopher-lua state with the
// base, package, table, string and math libraries, and the script returns a table with
// `status` (Healthy, Progressing, Degraded, Suspended, Missing, Unknown) and `message`.
//
// Usage:
//
//	argocd-health test <dir>          run <dir>/health_test.yaml against <dir>/health.lua
//	argocd-health eval <health.lua> <object.yaml>...
//
// `test` prints one JSON line per case ({"inputPath","want","got","pass"}) and exits 1 when a
// case fails; `eval` prints one JSON line per object ({"inputPath","got"}). Both exit 2 on a
// script error.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

type health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type testCase struct {
	HealthStatus health `json:"healthStatus"`
	InputPath    string `json:"inputPath"`
}

type testFile struct {
	Tests []testCase `json:"tests"`
}

var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: argocd-health test <dir> | argocd-health eval <health.lua> <object.yaml>...")
		os.Exit(2)
	}
	var err error
	failed := false
	switch os.Args[1] {
	case "test":
		failed, err = runTests(os.Args[2])
	case "eval":
		err = runEval(os.Args[2], os.Args[3:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func runTests(dir string) (bool, error) {
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		return false, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		return false, err
	}
	var tests testFile
	if err := yaml.UnmarshalStrict(raw, &tests); err != nil {
		return false, fmt.Errorf("health_test.yaml: %w", err)
	}
	if len(tests.Tests) == 0 {
		return false, fmt.Errorf("health_test.yaml has no tests")
	}
	failed := false
	for _, tc := range tests.Tests {
		got, err := evalFile(string(script), filepath.Join(dir, tc.InputPath))
		if err != nil {
			return false, fmt.Errorf("%s: %w", tc.InputPath, err)
		}
		pass := got == tc.HealthStatus
		failed = failed || !pass
		line, _ := json.Marshal(map[string]any{"inputPath": tc.InputPath, "want": tc.HealthStatus, "got": got, "pass": pass})
		fmt.Println(string(line))
	}
	return failed, nil
}

func runEval(scriptPath string, inputs []string) error {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return err
	}
	for _, input := range inputs {
		got, err := evalFile(string(script), input)
		if err != nil {
			return fmt.Errorf("%s: %w", input, err)
		}
		line, _ := json.Marshal(map[string]any{"inputPath": input, "got": got})
		fmt.Println(string(line))
	}
	return nil
}

func evalFile(script, path string) (health, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return health{}, err
	}
	var obj map[string]any
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return health{}, err
	}
	return eval(script, obj)
}

// eval runs the script on obj in a fresh Lua state holding only the libraries Argo CD opens.
func eval(script string, obj map[string]any) (health, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return health{}, err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	h := health{Status: lua.LVAsString(table.RawGetString("status")), Message: lua.LVAsString(table.RawGetString("message"))}
	if !validStatuses[h.Status] {
		return health{}, fmt.Errorf("the script returned the status %q, which Argo CD does not know", h.Status)
	}
	return h, nil
}

// toLua converts decoded JSON to Lua values: objects to tables keyed by string, arrays to
// sequences (1-based), numbers to LNumber, null to nil.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case map[string]any:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	default:
		panic(fmt.Sprintf("unexpected %T in a decoded object", value))
	}
}
