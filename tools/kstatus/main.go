// Command kstatus reads Kubernetes objects (YAML, one per file) and prints, one JSON line per
// object, how Flux would judge their health.
//
//	kstatus compute <object.yaml>...
//	    {"inputPath","status","message"} from sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute,
//	    the reader Flux's `wait: true` and `healthChecks` use for custom resources.
//	kstatus cel <kustomization.yaml> <object.yaml>...
//	    {"inputPath","status","matched","error"} from the spec.healthCheckExprs entry of a Flux
//	    Kustomization whose apiVersion and kind match the object, evaluated with cel-go.
//	    Order: a status.observedGeneration behind metadata.generation is InProgress; then the
//	    inProgress, failed and current expressions, the first that is true wins; none true is
//	    InProgress. An expression that cannot be evaluated (e.g. a missing field) is reported in
//	    "error" and the object counts as InProgress, as Flux keeps waiting then.
//
// Exit status: 0 when every object was read, 2 otherwise.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: kstatus compute <object.yaml>... | kstatus cel <kustomization.yaml> <object.yaml>...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "compute":
		err = compute(os.Args[2:])
	case "cel":
		if len(os.Args) < 4 {
			err = fmt.Errorf("cel needs a Kustomization and at least one object")
		} else {
			err = evalCEL(os.Args[2], os.Args[3:])
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(2)
	}
}

func readObject(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Decoded as the API machinery decodes objects: whole numbers as int64, which
	// kstatus needs to read metadata.generation and status.observedGeneration.
	data, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u.Object, nil
}

func printLine(fields map[string]any) {
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

func compute(paths []string) error {
	for _, path := range paths {
		obj, err := readObject(path)
		if err != nil {
			return err
		}
		result, err := status.Compute(&unstructured.Unstructured{Object: obj})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		printLine(map[string]any{"inputPath": path, "status": result.Status.String(), "message": result.Message})
	}
	return nil
}

type healthCheckExpr struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	InProgress string `json:"inProgress"`
	Failed     string `json:"failed"`
	Current    string `json:"current"`
}

type kustomization struct {
	Kind string `json:"kind"`
	Spec struct {
		HealthCheckExprs []healthCheckExpr `json:"healthCheckExprs"`
	} `json:"spec"`
}

// The variables an expression sees: the object's top-level fields.
var topLevel = []string{"apiVersion", "kind", "metadata", "spec", "status"}

func evalCEL(kustomizationPath string, paths []string) error {
	raw, err := os.ReadFile(kustomizationPath)
	if err != nil {
		return err
	}
	var k kustomization
	if err := yaml.Unmarshal(raw, &k); err != nil {
		return fmt.Errorf("%s: %w", kustomizationPath, err)
	}
	if k.Kind != "Kustomization" || len(k.Spec.HealthCheckExprs) == 0 {
		return fmt.Errorf("%s: not a Kustomization with spec.healthCheckExprs", kustomizationPath)
	}
	opts := []cel.EnvOption{cel.OptionalTypes()}
	for _, name := range topLevel {
		opts = append(opts, cel.Variable(name, cel.DynType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return err
	}
	for _, path := range paths {
		obj, err := readObject(path)
		if err != nil {
			return err
		}
		var check *healthCheckExpr
		for i := range k.Spec.HealthCheckExprs {
			e := &k.Spec.HealthCheckExprs[i]
			if e.APIVersion == obj["apiVersion"] && e.Kind == obj["kind"] {
				check = e
			}
		}
		if check == nil {
			return fmt.Errorf("%s: no healthCheckExprs entry for %v %v", path, obj["apiVersion"], obj["kind"])
		}
		if check.Current == "" {
			return fmt.Errorf("the healthCheckExprs entry for %s has no current expression", check.Kind)
		}
		result := map[string]any{"inputPath": path, "status": "InProgress", "matched": ""}
		if generationLags(obj) {
			result["matched"] = "observedGeneration"
			printLine(result)
			continue
		}
		vars := map[string]any{}
		for _, name := range topLevel {
			if v, ok := obj[name]; ok {
				vars[name] = v
			}
		}
		for _, candidate := range []struct{ name, status, expr string }{
			{"inProgress", "InProgress", check.InProgress},
			{"failed", "Failed", check.Failed},
			{"current", "Current", check.Current},
		} {
			if candidate.expr == "" {
				continue
			}
			value, err := evalBool(env, candidate.expr, vars)
			if err != nil {
				result["error"] = fmt.Sprintf("%s: %v", candidate.name, err)
				break
			}
			if value {
				result["status"] = candidate.status
				result["matched"] = candidate.name
				break
			}
		}
		printLine(result)
	}
	return nil
}

func evalBool(env *cel.Env, expr string, vars map[string]any) (bool, error) {
	ast, issues := env.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return false, issues.Err()
	}
	program, err := env.Program(ast)
	if err != nil {
		return false, err
	}
	out, _, err := program.Eval(vars)
	if err != nil {
		return false, err
	}
	value, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%q does not evaluate to a bool", expr)
	}
	return value, nil
}

func generationLags(obj map[string]any) bool {
	u := unstructured.Unstructured{Object: obj}
	observed, found, err := unstructured.NestedInt64(obj, "status", "observedGeneration")
	if err != nil || !found {
		return false
	}
	return observed != u.GetGeneration()
}
