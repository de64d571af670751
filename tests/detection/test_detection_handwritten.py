"""Hand-written posts in phrasings the generator does not use (not in detection/data/posts.jsonl).

Honesty note: these 100 posts were written blind in three rounds, and after each round the lexicon
was broadened with general vocabulary where it missed, so they are no longer a blind test; they
stay as a regression check that the rules + model keep handling phrasings beyond our templates.
"""
import pytest

from detection.classifier.classify import Classifier
from detection.classifier.features import DATA

POSTS = [
    ('outcall', False, '♡ 심심한 오빠 구함 ♡ 서면 근처 바로 가능 텔그 @sweet_bb 선입금 없음'),
    ('outcall', False, '혼자 사는 여자예요 오늘 밤 집 비어요 조용히 만나실 분 라인으로'),
    ('outcall', False, 'ㅈ ㄱ ㄱ ㄴ 홍대 숏 10 롱 20 ㅋㅌ 주세요'),
    ('outcall', False, '인증된 한국인 매니저가 호텔로 직접 방문합니다 100% 후불 결제 24시간 상담 0507-1234-5678'),
    ('outcall', False, '만나서 술 한잔 하고 모텔까지 가실 분 페이는 15 정도 생각해요 DM'),
    ('outcall', False, '오늘 일산에서 애인 같은 데이트 원하시는 분 수위 조절 다 돼요 카톡 luv0'),
    ('outcall', False, '대학생인데 용돈 주실 스폰 오빠 구해요 한 달 두 번 만나요 텔레 spn_22'),
    ('venue', False, '부평 스웨디시 관리사 전원 20대 마무리 확실합니다 예약제 010-4444-1212'),
    ('venue', False, '선릉역 도보 3분 오피 이번주 신규 언니 출근 가격 문의 주세요 실장 텔 @sr_op'),
    ('venue', False, '수원 인계동 풀싸롱 주대 정찰제 아가씨 초이스 무제한 예약 0508-1000-2000'),
    ('venue', False, '동탄 휴게텔 오픈 기념 전 코스 2만원 할인 샤워실 완비'),
    ('venue', False, '강남 셔츠룸 오늘 출근 30명 정찰제 문의 환영'),
    ('recruit', False, '여성분 고수익 보장 하루 4시간 근무 일급 60 지급 숙소 있어요 문의는 텔레로'),
    ('recruit', False, '룸 아가씨 급구 나이 외모 상관없어요 선불 가능 당일 정산 카톡 job_gn'),
    ('recruit', False, '대출 빚 때문에 힘든 여성분 상담 후 일자리 연결해 드립니다 숙식 제공'),
    ('recruit', False, '노래주점 도우미 구함 초보 가능 페이 시급 5만 이상 010-7777-8888'),
    ('outcall', True, '고1 여자인데 오늘 조건 되는 오빠 있어요? 모텔은 오빠가'),
    ('outcall', True, '열일곱 살이에요 용돈 주시면 만나요 문상 가능'),
    ('recruit', True, '가출해서 갈 데 없는 여자애들 연락해 방 있고 일자리도 줌'),
    ('outcall', True, '중딩 여자 조건 가능 사진 교환 먼저 텔레 mm09'),
    ('none', False, '서울시, 성매매 광고 전화번호 3천 개 이용정지 요청'),
    ('none', False, '출장 가서 먹은 부산 돼지국밥 너무 맛있었다'),
    ('none', False, '강남역 오피스텔 월세 매물 보는 중인데 관리비가 너무 비싸네요'),
    ('none', False, '스웨디시 마사지 처음 받아봤는데 근육 풀리는 느낌 좋네요 (건전샵)'),
    ('none', False, '카페 알바 구해요 시급 만원 주말 오후 카톡 cafe_hr'),
    ('none', False, '우리 센터는 성매매 피해 여성의 자립을 지원합니다 상담 02-814-3660'),
    ('none', False, '출장 에어컨 세척 합니다 분해 세척 8만원 010-2323-4545'),
    ('none', False, '소개팅 앱에서 만난 사람이 갑자기 돈 얘기해서 바로 차단했어요'),
    ('none', False, '고등학생 때 친구들이랑 노래방 가던 게 그립다'),
    ('none', False, '오늘 경찰이 키스방 단속했다는 뉴스 봤음'),
    ('none', False, '아이돌 팬싸 당첨됐어요 ㅠㅠ 너무 떨려'),
    ('none', False, '라인 프렌즈 스토어 홍대점 굿즈 세일한대'),
    ('none', False, '청소년 성매매 예방 교육 자료 공유합니다 학교에서 활용하세요'),
    ('none', False, '헬스장 PT 10회 50만원 이면 적당한가요'),
    ('none', False, '출장뷔페 30인분 견적 부탁드려요 카톡으로 연락주세요'),
    ('outcall', False, '🍓 오늘 저녁 7시 이후 시간 되는 남자분 🍓 연산동 모텔 ok 20 카톡 strawb'),
    ('outcall', False, '전지역 30분 출장 / 20대 한국 여성 / 선입금 절대 없음 / 0503-2211-8899'),
    ('outcall', False, '퇴근 후 스트레스 풀어드려요 만남 후 결제 텔레 healing_u'),
    ('outcall', False, '애인처럼 다정하게 밤새 함께해요 숏 롱 문의 라인 yeonii'),
    ('outcall', False, '조건 봐요 ㅎㅎ 천안 2시간 25 장난X'),
    ('outcall', False, '즉만 가능한 분 DM 주세요 대구 지금 바로'),
    ('outcall', False, "ㅇㄹ 만남 원하는 분 용돈 주시면 잘해드려요 오픈채팅 '밤꽃'"),
    ('venue', False, '해운대 1등 하드 풀코스 업소 오늘도 언니들 대기중 방문 예약 010-9988-7766'),
    ('venue', False, '신림 립카페 점심 특가 4만 원 샤워 후 서비스'),
    ('venue', False, '역삼 키스방 이벤트 30분 5만 신규 매니저 출근했어요'),
    ('venue', False, '분당 건마 한국인 관리사 전립선 마무리 가능 예약 필수'),
    ('venue', False, '인천 룸싸롱 아가씨 퀄리티 보장 주대 15 시작'),
    ('recruit', False, '여성 구인 | 일 평균 80 이상 | 숙소 무료 | 경험 없어도 됨 | 텔레 rc_boss'),
    ('recruit', False, '강남 텐프로 아가씨 모집 성형 지원 가능 선불 상담'),
    ('recruit', False, '20대 여성 재택 영상 알바 노출 있음 하루 30 보장'),
    ('recruit', False, '오피 실장입니다 근무할 아가씨 구해요 페이 7:3 숙소 제공'),
    ('outcall', True, '고2 여자 오늘 밤 재워줄 오빠 찾아요 대신 뭐든 해줄게'),
    ('outcall', True, '08년생 여자 조건 15 가능 지역 인천'),
    ('recruit', True, '중고딩 여자 알바 구함 얼굴 사진만 보내면 돈 줌 DM'),
    ('outcall', True, '학생인데 용돈 벌고 싶어요 모텔 비 대주실 분'),
    ('none', False, '방심위가 지난달 성매매 광고 게시물 2천여 건에 대해 접속차단 결정을 내렸다'),
    ('none', False, '출장 끝나고 숙소 근처 국밥집 갔는데 존맛'),
    ('none', False, '오피스텔 전세 사기 조심하세요 등기부등본 꼭 확인'),
    ('none', False, '발 마사지 받고 싶다 요즘 너무 걸어서'),
    ('none', False, '편의점 야간 알바 그만뒀어요 너무 힘들어서'),
    ('none', False, '조건 좋은 회사 이직 성공했습니다!'),
    ('none', False, '출장 세차 불렀는데 30분 만에 끝남 가격 4만원'),
    ('none', False, '키스 장면 때문에 드라마 시청률 올랐대'),
    ('none', False, '청소년 그루밍 피해 상담은 1366 또는 디지털성범죄피해자지원센터'),
    ('none', False, '텔레그램 업데이트 하니까 폰트 바뀜'),
    ('none', False, '라인 스티커 새로 샀어 귀엽지'),
    ('none', False, '고딩 때 야자 끝나고 떡볶이 먹던 게 최고였지'),
    ('none', False, '모텔 가격 왜 이렇게 올랐냐 주말 15만원 실화?'),
    ('none', False, '룸카페 데이트 후기 보드게임 재밌었음'),
    ('none', False, '마사지샵 사장님 너무 친절하세요 어깨 완전 풀림'),
    ('none', False, '만남의 광장에서 친구 만나기로 함'),
    ('none', False, '이 가수 보러 가려고 티켓 15만원 결제함 ㅠ'),
    ('none', False, '카톡 프로필 뮤직 추천해줘'),
    ('none', False, '다시함께상담센터 캠페인 부스 운영합니다 많이 와주세요'),
    ('none', False, '출장 요리사 불러서 집들이 했는데 대박'),
    ('outcall', False, '오늘 하루 여친 해드릴게요 저녁부터 아침까지 가능 페이 협의 텔레 night_gf'),
    ('outcall', False, '성인 남성분만 연락주세요 💕 울산 삼산동 직접 찾아가요 후불 OK 010-3030-1212'),
    ('outcall', False, '외로운 밤 함께할 파트너 찾아요 금액은 톡으로 ㅋㅌ sexyhn'),
    ('outcall', False, 'ㅈ건 ㄱㄴ 수원역 2 5 ㅇㅋ'),
    ('outcall', False, '시간당 12 이쁜 언니가 집으로 갑니다 카톡 home_v'),
    ('venue', False, '대전 유성 안마 시술소 주간 9만 야간 11만 초이스 가능'),
    ('venue', False, '의정부 오피 한국 언니 20대 실사 후기 많음 예약 텔레 ujb_op'),
    ('venue', False, '압구정 하이퍼 오늘 출근부 올렸습니다 문의 주세요'),
    ('venue', False, '광주 상무지구 스파 밀착 마사지 끝까지 서비스 예약 062-111-2222'),
    ('recruit', False, '유흥업소 면접 보러 오세요 당일 출근 당일 지급 여성 20~30대'),
    ('recruit', False, '밤에 일할 여성 구함 한달 천만원 가능 텔레 hire_n'),
    ('recruit', False, '마사지 업소 여성 관리사 모집 무경험 교육 후 투입 숙소 제공'),
    ('outcall', True, '중2 여자 용돈 주면 만나줄게 문화상품권 받음'),
    ('recruit', True, '집 나간 애들 여기로 와 잠자리 밥 다 해결해줌 여자만 텔레 run_away'),
    ('outcall', True, '고딩 여친 만들어 드려요 조건 20'),
    ('none', False, '경찰청, 청소년 대상 조건만남 알선 사이트 운영자 검거'),
    ('none', False, '출장 마사지 광고 문자 또 옴 신고했다'),
    ('none', False, '우리 동네 헬스장 샤워실 공사한대'),
    ('none', False, '알바 첫날인데 사장님이 일당 10만원 주셨어요'),
    ('none', False, '오피스텔 원룸 보러 다니는데 다 비싸'),
    ('none', False, '어제 데이트하고 모텔 말고 호텔 잡았어'),
    ('none', False, '카톡 오픈채팅방에서 스터디원 모집 중이에요'),
    ('none', False, '출장 도배 견적 받았는데 30만원 나왔어요'),
    ('none', False, '청소년 쉼터 자원봉사 후기 남겨요'),
    ('none', False, '노래방 갔다가 술 한잔 하고 집에 옴'),
]


@pytest.fixture(scope="module")
def clf():
    return Classifier.load()


def test_posts_are_not_in_the_training_data():
    data = DATA.read_text(encoding="utf-8")
    assert not [t for _, _, t in POSTS if t in data]


def test_handwritten_posts(clf):
    wrong = []
    for category, youth, text in POSTS:
        v = clf.classify(text)
        if (v.category, v.youth) != (category, youth):
            wrong.append((category, youth, v.category, v.youth, text))
    print(f"{len(POSTS) - len(wrong)}/{len(POSTS)} right", *wrong, sep="\n")
    assert len(wrong) <= 0.1 * len(POSTS)
    ads = [p for p in POSTS if p[0] != "none"]
    assert sum(w[0] != "none" and w[2] == "none" for w in wrong) <= 0.1 * len(ads)
    # At most four false alarms among the negatives (legitimate job and 출장 posts with a contact are the hard
    # ones; the blind round measured 11% on such posts, README).
    assert not [w for w in wrong if w[0] == "none"][4:]
