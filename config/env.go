package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment variable that overrides the configuration.
const EnvPrefix = "PARAPHE_"

// applyEnv sets the option named by each PARAPHE_* variable. Names come from the yaml tags,
// upper-cased and joined by underscores (tls.acme.email is PARAPHE_TLS_ACME_EMAIL). Lists are
// comma-separated; maps are k=v pairs separated by commas. An unknown PARAPHE_ variable is an
// error, so that a typo is not silently ignored.
func applyEnv(c *Config, env []string) error {
	fields := map[string]reflect.Value{}
	collect(reflect.ValueOf(c).Elem(), "", fields)
	var problems []error
	seen := map[string]struct{ name, value string }{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key := strings.TrimPrefix(name, EnvPrefix)
		key = envAlias(key)
		if prev, ok := seen[key]; ok && prev.name != name && prev.value != value {
			problems = append(problems, fmt.Errorf("%s and %s are both set, to different values", prev.name, name))
			continue
		}
		seen[key] = struct{ name, value string }{name, value}
		f, ok := fields[key]
		if !ok {
			if key == "CONFIG" { // the configuration file's path, read by the command line
				continue
			}
			problems = append(problems, fmt.Errorf("%s: no such option", name))
			continue
		}
		if err := setFromString(f, value); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", name, err))
		}
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// envAlias maps the other names accepted for some variables (without EnvPrefix) to their
// option: the key passphrase is PARAPHE_KEYS_PASSPHRASE after its YAML path, and also
// PARAPHE_KEY_PASSPHRASE as the design documents name it.
func envAlias(key string) string {
	if key == "KEY_PASSPHRASE" {
		return "KEYS_PASSPHRASE"
	}
	return key
}

func collect(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := strings.ToUpper(tag)
		if prefix != "" {
			name = prefix + "_" + name
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			collect(f, name, out)
			continue
		}
		out[name] = f
	}
}

func setFromString(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		f.SetBool(b)
	case reflect.Float64:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		f.SetFloat(v)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		f.SetInt(n)
	case reflect.Slice:
		var items []string
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		switch f.Type().Elem().Kind() {
		case reflect.String:
			f.Set(reflect.ValueOf(items).Convert(f.Type()))
		case reflect.Int:
			list := reflect.MakeSlice(f.Type(), 0, len(items))
			for _, it := range items {
				n, err := strconv.Atoi(it)
				if err != nil {
					return fmt.Errorf("%q is not a list of integers separated by commas", s)
				}
				list = reflect.Append(list, reflect.ValueOf(n))
			}
			f.Set(list)
		default:
			return fmt.Errorf("unsupported option type %s", f.Type())
		}
	case reflect.Map:
		m := map[string]string{}
		for _, it := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(it, "=")
			if !ok {
				return fmt.Errorf("%q is not a list of key=value pairs", s)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		f.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("unsupported option type %s", f.Type())
	}
	return nil
}
