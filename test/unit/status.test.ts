import { expect } from 'chai';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { invalidArgument, inUse, notFound, PeapodError, PEAPOD_ERROR_CODES, withFieldPath, wrongState } from '../../src/common/errors';
import { PullError } from '../../src/image-service/puller';
import { InvalidReferenceError } from '../../src/image-service/reference';
import { RegistriesConfError, RegistryBlockedError } from '../../src/image-service/registries-conf';
import { RegistryError } from '../../src/image-service/registry-client';
import { CniPluginError } from '../../src/runtime-service/cni/plugin-exec';
import { CODE_TO_GRPC, toGrpcStatus } from '../../src/server/status';

describe('error family and its gRPC mapping (src/server/status.ts)', () => {
  it('maps every stable code, refusals of state and use to FAILED_PRECONDITION', () => {
    for (const c of PEAPOD_ERROR_CODES) expect(CODE_TO_GRPC[c], c).to.be.a('number');
    expect(toGrpcStatus(wrongState('container x is exited')).code).to.equal(GrpcStatus.FAILED_PRECONDITION);
    expect(toGrpcStatus(inUse('image y is used')).code).to.equal(GrpcStatus.FAILED_PRECONDITION);
    expect(toGrpcStatus(notFound('no z')).code).to.equal(GrpcStatus.NOT_FOUND);
    expect(toGrpcStatus(new Error('bug'))).to.deep.equal({ code: GrpcStatus.INTERNAL, message: 'bug' });
  });

  it('keeps the codes CRI callers saw for library errors', () => {
    expect(toGrpcStatus(new RegistryError('denied', 401)).code).to.equal(GrpcStatus.PERMISSION_DENIED);
    expect(toGrpcStatus(new RegistryError('no such tag', 404)).code).to.equal(GrpcStatus.NOT_FOUND);
    expect(toGrpcStatus(new RegistryError('connection refused')).code).to.equal(GrpcStatus.UNAVAILABLE);
    expect(toGrpcStatus(new RegistryBlockedError('blocked')).code).to.equal(GrpcStatus.PERMISSION_DENIED);
    expect(toGrpcStatus(new RegistriesConfError('bad file')).code).to.equal(GrpcStatus.FAILED_PRECONDITION);
    expect(toGrpcStatus(new PullError('digest mismatch')).code).to.equal(GrpcStatus.FAILED_PRECONDITION);
    expect(toGrpcStatus(new InvalidReferenceError('UPPER', 'uppercase')).code).to.equal(GrpcStatus.INVALID_ARGUMENT);
    const cni = (code: number | undefined) => toGrpcStatus(new CniPluginError('bridge', 'ADD', code, 'm', ''));
    expect(cni(3).code).to.equal(GrpcStatus.NOT_FOUND);
    expect(cni(5).code).to.equal(GrpcStatus.INTERNAL);
    expect(cni(7).code).to.equal(GrpcStatus.FAILED_PRECONDITION);
    expect(cni(11).code).to.equal(GrpcStatus.UNAVAILABLE);
    expect(cni(100).code).to.equal(GrpcStatus.UNKNOWN);
    expect(cni(7).message).to.match(/^setting up the pod network: CNI plugin bridge ADD failed \(CNI error code 7\)/);
  });

  it('prefixes a front end field path, keeping class and code', () => {
    const err = invalidArgument('host path "/x" does not exist', { field: 'mounts[0].hostPath' });
    const cri = withFieldPath(err, 'config.mounts[0].host_path');
    expect(cri).to.be.instanceOf(PeapodError);
    expect(cri.code).to.equal('INVALID_ARGUMENT');
    expect(cri.message).to.equal('config.mounts[0].host_path: host path "/x" does not exist');
    expect(cri.field).to.equal(undefined);
    const ref = withFieldPath(new InvalidReferenceError('A', 'bad'), 'image.image');
    expect(ref).to.be.instanceOf(InvalidReferenceError);
    expect(ref.reference).to.equal('A');
    expect(withFieldPath(new Error('plain'), 'x').message).to.equal('plain');
  });
});
