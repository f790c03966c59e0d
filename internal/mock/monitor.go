package mock

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Preview runs a Pulumi program against c as `pulumi preview` would, over
// a resource monitor served on a loopback port.
//
// pulumi.WithMocks cannot do this: its monitor decodes inputs without
// keeping unknown values, so a secret whose value is not known yet (the
// SSH connection of a remote command to an address that does not exist
// yet, a password not generated yet) fails to decode. This monitor keeps
// unknowns and secrets and answers through the same NewResource and Call as
// the update mode's mocks, so both modes see the same fake cloud.
func Preview(c *Cloud, project, stack string, program pulumi.RunFunc, opts ...pulumi.RunOption) error {
	c.DryRun = true
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("mock: listen: %w", err)
	}
	srv := grpc.NewServer()
	m := &monitor{cloud: c, project: project, stack: stack}
	pulumirpc.RegisterResourceMonitorServer(srv, m)
	pulumirpc.RegisterEngineServer(srv, m)
	go srv.Serve(lis) //nolint:errcheck // ends with Stop below
	defer srv.Stop()
	addr := lis.Addr().String()
	run := append(opts, func(info *pulumi.RunInfo) {
		info.Project, info.Stack = project, stack
		info.MonitorAddr, info.EngineAddr, info.DryRun, info.Mocks = addr, addr, true, nil
	})
	return pulumi.RunErr(program, run...)
}

type monitor struct {
	pulumirpc.UnimplementedResourceMonitorServer
	pulumirpc.UnimplementedEngineServer
	cloud          *Cloud
	project, stack string

	mu   sync.Mutex
	root string
}

var keep = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func (m *monitor) SupportsFeature(_ context.Context, in *pulumirpc.SupportsFeatureRequest) (*pulumirpc.SupportsFeatureResponse, error) {
	// Output values would hand the mock Output wrappers; plain values with
	// unknowns and secrets are what the mocks understand.
	return &pulumirpc.SupportsFeatureResponse{HasSupport: in.GetId() != "outputValues"}, nil
}

func (m *monitor) Invoke(_ context.Context, in *pulumirpc.ResourceInvokeRequest) (*pulumirpc.InvokeResponse, error) {
	args, err := plugin.UnmarshalProperties(in.GetArgs(), keep)
	if err != nil {
		return nil, err
	}
	out, err := m.cloud.Call(pulumi.MockCallArgs{Token: in.GetTok(), Args: args, Provider: in.GetProvider()})
	if err != nil {
		// As the engine does: a failed invoke is a result with failures.
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{Reason: err.Error()}}}, nil
	}
	ret, err := plugin.MarshalProperties(out, keep)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

func (m *monitor) RegisterResource(_ context.Context, in *pulumirpc.RegisterResourceRequest) (*pulumirpc.RegisterResourceResponse, error) {
	urn := m.urn(in.GetParent(), in.GetType(), in.GetName())
	if in.GetType() == string(resource.RootStackType) && in.GetParent() == "" {
		return &pulumirpc.RegisterResourceResponse{Urn: urn}, nil
	}
	inputs, err := plugin.UnmarshalProperties(in.GetObject(), keep)
	if err != nil {
		return nil, err
	}
	id, state, err := m.cloud.NewResource(pulumi.MockResourceArgs{
		TypeToken: in.GetType(), Name: in.GetName(), Inputs: inputs,
		Provider: in.GetProvider(), Custom: in.GetCustom(), RegisterRPC: in,
	})
	if err != nil {
		return nil, err
	}
	obj, err := plugin.MarshalProperties(state, keep)
	if err != nil {
		return nil, err
	}
	if id == "" && in.GetCustom() {
		id = plugin.UnknownStringValue
	}
	return &pulumirpc.RegisterResourceResponse{Urn: urn, Id: id, Object: obj}, nil
}

func (m *monitor) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(m.project), parentType, tokens.Type(typ), name))
}

func (m *monitor) RegisterResourceOutputs(context.Context, *pulumirpc.RegisterResourceOutputsRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (m *monitor) RegisterPackage(context.Context, *pulumirpc.RegisterPackageRequest) (*pulumirpc.RegisterPackageResponse, error) {
	return &pulumirpc.RegisterPackageResponse{Ref: "mock-package"}, nil
}

func (m *monitor) SignalAndWaitForShutdown(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (m *monitor) Log(_ context.Context, in *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	m.cloud.mu.Lock()
	m.cloud.logs = append(m.cloud.logs, strings.TrimSpace(in.GetMessage()))
	m.cloud.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (m *monitor) GetRootResource(context.Context, *pulumirpc.GetRootResourceRequest) (*pulumirpc.GetRootResourceResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &pulumirpc.GetRootResourceResponse{Urn: m.root}, nil
}

func (m *monitor) SetRootResource(_ context.Context, in *pulumirpc.SetRootResourceRequest) (*pulumirpc.SetRootResourceResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.root = in.GetUrn()
	return &pulumirpc.SetRootResourceResponse{}, nil
}
