/* A C model of swiftstn's narrow bilinear forward (64×1×28×28, the benchmark's affine grid,
 * zeros padding, align_corners=False), one thread: the Swift kernel's chunk of 16 outputs
 * (GridSample2DNarrow.swift) written with intrinsics, to see what the algorithm costs on this
 * machine without Swift. Not part of the library: docs/performance.md (step 10) reports it.
 *
 *   cc -O2 -march=native bench/models/narrow_forward.c -o /tmp/nf && /tmp/nf
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define N 64
#define H 28
#define W 28
#define R 32
#define PL ((H+4)*R)
float grid[N*H*W*2] __attribute__((aligned(64)));
float inp[N*H*W], out[N*H*W];
float planes[PL+64] __attribute__((aligned(64)));
static inline void copyin(const float*s, float*d){
  __m512 z=_mm512_setzero_ps();
  for(int r=0;r<2;r++){_mm512_store_ps(d+r*R,z);_mm512_store_ps(d+r*R+16,z);_mm512_store_ps(d+(H+2+r)*R,z);_mm512_store_ps(d+(H+2+r)*R+16,z);}
  for(int y=0;y<H;y++){ _mm512_store_ps(d+(y+2)*R,_mm512_loadu_ps(s+y*W)); _mm512_store_ps(d+(y+2)*R+16,_mm512_maskz_loadu_ps(0x0fff,s+y*W+16)); }
}
static inline int hmin(__m512i v){ return _mm512_reduce_min_epi32(v); }
/* Keeps each row in a register (as stn_row_f32x16 does): not folded into every permute. */
#define BAR(v) __asm__("" : "+v"(v))
static inline void chunk(const float*g, float*o, const float*P){
  __m512 a=_mm512_load_ps(g), b=_mm512_load_ps(g+16);
  __m512i ex=_mm512_set_epi32(30,28,26,24,22,20,18,16,14,12,10,8,6,4,2,0), ey=_mm512_add_epi32(ex,_mm512_set1_epi32(1));
  __m512 one=_mm512_set1_ps(1);
  __m512 gx=_mm512_add_ps(_mm512_permutex2var_ps(a,ex,b),one), gy=_mm512_add_ps(_mm512_permutex2var_ps(a,ey,b),one);
  __m512 x=_mm512_fmadd_ps(gx,_mm512_set1_ps(W*0.5f),_mm512_set1_ps(-0.5f)), y=_mm512_fmadd_ps(gy,_mm512_set1_ps(H*0.5f),_mm512_set1_ps(-0.5f));
  __m512 xw=_mm512_roundscale_ps(x,9), yn=_mm512_roundscale_ps(y,9);
  __m512 fw=_mm512_sub_ps(x,xw), fe=_mm512_sub_ps(one,fw), fn=_mm512_sub_ps(y,yn), fs=_mm512_sub_ps(one,fn);
  __m512i left=_mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(xw,_mm512_set1_ps(-2)),_mm512_set1_ps(W)));
  __m512 yc=_mm512_min_ps(_mm512_max_ps(yn,_mm512_set1_ps(-2)),_mm512_set1_ps(H));
  __m512i top=_mm512_add_epi32(_mm512_cvttps_epi32(yc),_mm512_set1_epi32(2));
  __m512i right=_mm512_add_epi32(left,_mm512_set1_epi32(1));
  int low=hmin(top);
  int base=low< H-1? low: H-1;
  __m512i d=_mm512_sub_epi32(top,_mm512_set1_epi32(base));
  __mmask16 fits=_mm512_cmplt_epu32_mask(d,_mm512_set1_epi32(4));
  __mmask16 m1=_mm512_cmpeq_epi32_mask(d,_mm512_set1_epi32(1)), m2=_mm512_cmpeq_epi32_mask(d,_mm512_set1_epi32(2)), m3=_mm512_cmpeq_epi32_mask(d,_mm512_set1_epi32(3));
  __m512 w00=_mm512_mul_ps(fs,fe), w01=_mm512_mul_ps(fs,fw), w10=_mm512_mul_ps(fn,fe), w11=_mm512_mul_ps(fn,fw);
  __m512 v00,v01,v10,v11;
  if(fits==0xffff){
    const float*r=P+base*R;
    __m512 lo=_mm512_load_ps(r), hi=_mm512_load_ps(r+16); BAR(lo);BAR(hi);
    v00=_mm512_permutex2var_ps(lo,left,hi); v01=_mm512_permutex2var_ps(lo,right,hi);
    r+=R; lo=_mm512_load_ps(r); hi=_mm512_load_ps(r+16);BAR(lo);BAR(hi);
    __m512 t0=_mm512_permutex2var_ps(lo,left,hi), t1=_mm512_permutex2var_ps(lo,right,hi);
    v00=_mm512_mask_mov_ps(v00,m1,t0); v01=_mm512_mask_mov_ps(v01,m1,t1); v10=t0; v11=t1;
    r+=R; lo=_mm512_load_ps(r); hi=_mm512_load_ps(r+16);BAR(lo);BAR(hi);
    t0=_mm512_permutex2var_ps(lo,left,hi); t1=_mm512_permutex2var_ps(lo,right,hi);
    v00=_mm512_mask_mov_ps(v00,m2,t0); v01=_mm512_mask_mov_ps(v01,m2,t1); v10=_mm512_mask_mov_ps(v10,m1,t0); v11=_mm512_mask_mov_ps(v11,m1,t1);
    r+=R; lo=_mm512_load_ps(r); hi=_mm512_load_ps(r+16);BAR(lo);BAR(hi);
    t0=_mm512_permutex2var_ps(lo,left,hi); t1=_mm512_permutex2var_ps(lo,right,hi);
    v00=_mm512_mask_mov_ps(v00,m3,t0); v01=_mm512_mask_mov_ps(v01,m3,t1); v10=_mm512_mask_mov_ps(v10,m2,t0); v11=_mm512_mask_mov_ps(v11,m2,t1);
    if(m3){
    r+=R; lo=_mm512_load_ps(r); hi=_mm512_load_ps(r+16);BAR(lo);BAR(hi);
    t0=_mm512_permutex2var_ps(lo,left,hi); t1=_mm512_permutex2var_ps(lo,right,hi);
    v10=_mm512_mask_mov_ps(v10,m3,t0); v11=_mm512_mask_mov_ps(v11,m3,t1);}
  } else {
    v00=v01=v10=v11=_mm512_setzero_ps();
    int row=low;
    do { const float*r=P+row*R; __m512 lo=_mm512_load_ps(r), hi=_mm512_load_ps(r+16);BAR(lo);BAR(hi);
      __m512 t0=_mm512_permutex2var_ps(lo,left,hi), t1=_mm512_permutex2var_ps(lo,right,hi);
      __mmask16 mt=_mm512_cmpeq_epi32_mask(top,_mm512_set1_epi32(row)), mb=_mm512_cmpeq_epi32_mask(top,_mm512_set1_epi32(row-1));
      v00=_mm512_mask_mov_ps(v00,mt,t0); v01=_mm512_mask_mov_ps(v01,mt,t1); v10=_mm512_mask_mov_ps(v10,mb,t0); v11=_mm512_mask_mov_ps(v11,mb,t1);
      row++;
    } while(_mm512_cmpge_epi32_mask(top,_mm512_set1_epi32(row-1)));
  }
  __m512 r=_mm512_mul_ps(v00,w00); r=_mm512_fmadd_ps(v01,w01,r); r=_mm512_fmadd_ps(v10,w10,r); r=_mm512_fmadd_ps(v11,w11,r);
  _mm512_storeu_ps(o,r);
}
int main(int argc,char**argv){
  float th[6]={0.9f,-0.15f,0.05f,0.15f,0.9f,-0.02f};
  srand(1);
  for(int n=0;n<N;n++) for(int i=0;i<H;i++) for(int j=0;j<W;j++){
    float xn=(2*j+1.0f)/W-1, yn=(2*i+1.0f)/H-1; int q=(n*H+i)*W+j;
    grid[2*q]=th[0]*xn+th[1]*yn+th[2]; grid[2*q+1]=th[3]*xn+th[4]*yn+th[5];
    inp[q]=rand()/(float)RAND_MAX-0.5f; }
  for(int round=0;round<3;round++){
  double best=1e9; double chk=0;
  for(int rep=0;rep<2000;rep++){
    double t=now();
    for(int n=0;n<N;n++){
      copyin(inp+n*H*W,planes);
      for(int q=0;q<H*W;q+=16) chunk(grid+2*(n*H*W+q), out+n*H*W+q, planes);
    }
    t=now()-t; if(t<best)best=t;
  }
  for(int i=0;i<N*H*W;i++) chk+=out[i]*(i%7);
  printf("64x1x28x28 bilinear forward, one thread: %.1f us (checksum %.6f)\n",best*1e6,chk);
  }
}
